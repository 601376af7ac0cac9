// The status_code Midtrans sends with each transaction_status (its HTTP notification docs): one
// table for the sandbox stand-in and for the tests that build notifications.

/** "200" money moved (or moved back), "201" waiting, "202" it failed, expired or was cancelled. */
export function statusCodeFor(
  transactionStatus: string,
  fraudStatus?: string,
): string {
  switch (transactionStatus) {
    case "capture":
      return fraudStatus === "challenge" ? "201" : "200";
    case "settlement":
    case "refund":
    case "partial_refund":
    case "chargeback":
    case "partial_chargeback":
      return "200";
    case "pending":
    case "authorize":
      return "201";
    default:
      return "202";
  }
}
