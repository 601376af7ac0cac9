// _shared/whatsapp_content.ts and whatsapp.ts in-process: the template and parameters per kind,
// parameters Meta accepts whatever the customer typed, and which of Meta's answers fail a message
// for good (against a local server answering Meta's error bodies).
import assert from "node:assert/strict";
import {
  sendWhatsApp,
  type WhatsAppConfig,
} from "../../supabase/functions/_shared/whatsapp.ts";
import {
  type TemplateNames,
  templateParameter,
  type WhatsAppMessage,
  whatsappTemplate,
} from "../../supabase/functions/_shared/whatsapp_content.ts";

const NAMES: TemplateNames = {
  whatsapp_template_invite: "booking_invite",
  whatsapp_template_link_changed: "booking_link_changed",
  whatsapp_template_link_pending: "booking_link_pending",
  whatsapp_template_cancellation: "booking_cancellation",
  whatsapp_template_reminder: "booking_reminder",
};

const MESSAGE: WhatsAppMessage = {
  id: "1",
  booking_id: "00000000-0000-0000-0000-000000000001",
  kind: "invite",
  recipient: "+6281234567890",
  order_id: "o-1",
  starts_at: new Date("2031-03-03T03:00:00Z"),
  ends_at: new Date("2031-03-03T04:00:00Z"),
  meeting_link: "https://meet.google.com/abc-defg-hij",
  previous_meeting_link: null,
  customer_name: "Ayu",
  locale: "id",
  time_zone: "Asia/Jakarta",
};

const texts = (message: WhatsAppMessage) => {
  const template = whatsappTemplate(message, NAMES);
  return [
    template.name,
    template.language.code,
    ...template.components[0].parameters.map((p) => p.text),
  ];
};

Deno.test("each kind has its template and parameters, in the customer's language and zone", () => {
  const slot = "Senin, 03 Maret 2031, 10.00–11.00 WIB";
  const link = MESSAGE.meeting_link;
  assert.deepEqual(texts(MESSAGE), ["booking_invite", "id", "Ayu", slot, link]);
  assert.deepEqual(
    texts({
      ...MESSAGE,
      previous_meeting_link: "https://meet.google.com/old-link-xyz",
    }),
    [
      "booking_link_changed",
      "id",
      "Ayu",
      slot,
      link,
      "https://meet.google.com/old-link-xyz",
    ],
  );
  assert.deepEqual(texts({ ...MESSAGE, kind: "reminder" }), [
    "booking_reminder",
    "id",
    "Ayu",
    slot,
    link,
  ]);
  assert.deepEqual(texts({ ...MESSAGE, kind: "link_pending" }), [
    "booking_link_pending",
    "id",
    "Ayu",
    slot,
  ]);
  assert.deepEqual(
    texts({ ...MESSAGE, kind: "cancellation", customer_name: null }),
    ["booking_cancellation", "id", "Bapak/Ibu", slot],
  );
  assert.equal(
    texts({ ...MESSAGE, locale: "en", customer_name: null })[2],
    "there",
  );
});

Deno.test("a parameter is one line, without runs of spaces, never empty, at most 200 characters", () => {
  assert.equal(templateParameter("Ayu\nLestari"), "Ayu Lestari");
  assert.equal(templateParameter("Ayu\t\tLestari"), "Ayu Lestari");
  assert.equal(templateParameter("Ayu      Lestari  "), "Ayu Lestari");
  assert.equal(templateParameter("Ayu\u2028\u2029Lestari\r\n"), "Ayu Lestari");
  assert.equal(templateParameter('"},{"x":1'), '"},{"x":1', "JSON is text");
  assert.equal(templateParameter("   "), "-");
  const long = templateParameter("é".repeat(500));
  assert.equal([...long].length, 200);
  assert.ok(long.endsWith("…"));
});

/** A Meta stand-in answering every POST with `status` and `body`. */
async function withMeta(
  status: number,
  body: unknown,
  run: (config: WhatsAppConfig) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json(body, { status }),
  );
  try {
    await run({
      messagesUrl: `http://127.0.0.1:${server.addr.port}/v23.0/1/messages`,
      accessToken: "t",
      timeoutMs: 2_000,
      drainBudgetMs: 1_000,
    });
  } finally {
    await server.shutdown();
  }
}

const metaError = (code: number) => ({
  error: { message: `(#${code}) x`, type: "OAuthException", code },
});

Deno.test("Meta's answers: a wamid is sent; documented permanent refusals fail at once; the rest retries", async () => {
  await withMeta(200, { messages: [{ id: "wamid.X" }] }, async (config) => {
    assert.deepEqual(await sendWhatsApp(MESSAGE, NAMES, config), {
      sent: true,
      wamid: "wamid.X",
    });
  });
  const cases: [number, unknown, boolean][] = [
    [400, metaError(131026), true], // undeliverable
    [404, metaError(132001), true], // template does not exist
    [400, metaError(132000), true], // parameter count
    [400, metaError(130429), false], // throughput limit, as Meta sends it
    [429, metaError(130429), false],
    [500, metaError(131000), false],
    [503, "not json", false],
    [401, metaError(190), false], // the token: ops can fix it, then the retry works
    [200, { messages: [] }, false], // no wamid
  ];
  for (const [status, body, permanent] of cases) {
    await withMeta(status, body, async (config) => {
      const outcome = await sendWhatsApp(MESSAGE, NAMES, config);
      assert.equal(outcome.sent, false, `${status} ${JSON.stringify(body)}`);
      if (!outcome.sent) {
        assert.equal(
          outcome.permanent,
          permanent,
          `${status} ${JSON.stringify(body)}`,
        );
        assert.match(outcome.error, new RegExp(`^HTTP ${status}`));
      }
    });
  }
  // Nothing listening: a network error, retried.
  const outcome = await sendWhatsApp(MESSAGE, NAMES, {
    messagesUrl: "http://127.0.0.1:9/v23.0/1/messages",
    accessToken: "t",
    timeoutMs: 2_000,
    drainBudgetMs: 1_000,
  });
  assert.equal(outcome.sent, false);
  if (!outcome.sent) {
    assert.equal(outcome.permanent, false);
    assert.match(outcome.error, /^WhatsApp unreachable/);
  }
});
