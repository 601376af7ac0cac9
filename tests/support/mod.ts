// Test helpers, one per job, shared by every Deno test: `import { ... } from "../support/mod.ts"`.

export { env } from "./env.ts";
export { connect, type Sql, withPoolLocked, withSql } from "./db.ts";
export {
  addLinks,
  createBooking,
  insertBookings,
  meetLink,
  resetData,
  withoutReminders,
} from "./data.ts";
export {
  type BookingState,
  bookingState,
  notificationLog,
  paidBookingsSharingALink,
  snapshotTables,
} from "./state.ts";
export {
  callFunction,
  functionNames,
  type FunctionResponse,
  pendingBackgroundTasks,
  pollUntil,
  settleBackgroundWork,
} from "./http.ts";
export { asServiceRole, assignLink, callAssign } from "./assign.ts";
export {
  answer,
  deliver,
  followUp,
  type Notification,
  postToWebhook,
  type Sample,
  sample,
  settlement,
  signed,
  statusCodeFor,
  webhookTest,
} from "./webhook.ts";
export {
  notifyFromSandbox,
  putTransaction,
  type SandboxTransaction,
  setSandboxFault,
  spawnMidtransSandbox,
  statusFieldsOf,
} from "./midtrans_sandbox.ts";
export {
  createCustomerBooking,
  type Customer,
  drain,
  outbox,
} from "./booking_emails.ts";
export { Mailbox, parseInvite, SpawnedMailDev } from "./maildev.ts";
export { pay, refund } from "./pay.ts";
export { captureConsole } from "./console.ts";
export { callInProcess, downDatabaseUrl } from "./in_process.ts";
export { signJwt } from "./jwt.ts";
export { prng } from "./random.ts";
export {
  freePort,
  type ServerExit,
  spawnFunctionsServer,
  testPostgres,
} from "./server.ts";
export {
  catalogDifferences,
  type CatalogSnapshot,
  catalogSnapshot,
} from "./catalog.ts";
export {
  postToWhatsAppWebhook,
  type SandboxMessage,
  signWhatsApp,
  statusCallback,
  WhatsAppSandbox,
} from "./whatsapp.ts";
