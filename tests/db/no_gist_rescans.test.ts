// No plan of ours rescans a GiST index: PostgreSQL can mark live GiST entries dead when a scan
// that stopped early is rescanned after a leaf split (docs/postgres-gist-bug.md). Every view and
// every function of this project (listed from the catalog, so new ones are covered) runs under
// auto_explain, with and without planner statistics, and each plan is walked for a GiST scan
// below a node that rescans it (a nested loop's inner side, a SubPlan).
import assert from "node:assert/strict";
import { addLinks, connect, resetData, type Sql } from "../support/mod.ts";

/** Thrown to roll the exercise back. */
class Rollback extends Error {}

interface PlanNode {
  "Node Type": string;
  "Parent Relationship"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

interface LoggedPlan {
  query: string;
  context: string;
  plan: PlanNode;
}

/** GiST scans that run below a node that rescans them, as "node on index (why)". */
export function gistRescans(
  node: PlanNode,
  gistIndexes: Set<string>,
  rescannedBy: string | null = null,
  parent: PlanNode | null = null,
): string[] {
  let by = rescannedBy;
  if (
    !by && parent?.["Node Type"] === "Nested Loop" &&
    node["Parent Relationship"] === "Inner"
  ) by = "inner side of a nested loop";
  if (!by && node["Parent Relationship"] === "SubPlan") by = "a SubPlan";
  const found = node["Index Name"] && gistIndexes.has(node["Index Name"]) && by
    ? [`${node["Node Type"]} on ${node["Index Name"]} (${by})`]
    : [];
  return found.concat(
    (node.Plans ?? []).flatMap((child) =>
      gistRescans(child, gistIndexes, by, node)
    ),
  );
}

// Everything an endpoint, the webhook, the sweep, self-healing, the guard, the health check and
// an admin run, on a pool of 12 links with 1,200 bookings.
async function exercise(sql: Sql, withStatistics: boolean): Promise<void> {
  await resetData(sql);
  const links = await addLinks(sql, 12, "gst");
  await sql`
    insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
    select 'gst-' || i, timestamptz '2031-03-01 00:00Z' + (i / 12) * interval '1 hour',
      timestamptz '2031-03-01 00:45Z' + (i / 12) * interval '1 hour', 1000,
      case when i % 12 < 10 then 'paid' else 'pending' end,
      case when i % 12 < 10 then (${links}::uuid[])[i % 12 + 1] end
    from generate_series(0, 1199) i`;
  await sql`
    insert into bookings (order_id, starts_at, ends_at, amount, payment_status)
    select 'gst-new-' || i, '2031-03-02 10:15Z', '2031-03-02 11:15Z', 1000,
      case when i <= 4 then 'paid' else 'pending' end
    from generate_series(1, 6) i`;
  // Checkouts: pending bookings that hold links.
  await sql`
    insert into bookings (order_id, starts_at, ends_at, amount)
    select 'gst-hold-' || i, '2031-03-04 10:00Z', '2031-03-04 11:00Z', 1000
    from generate_series(1, 3) i`;
  if (withStatistics) {
    await sql`analyze bookings, meeting_links_pool, midtrans_notifications, double_booking_checks,
      meeting_link_holds`;
  } else {
    // As on freshly created tables: no statistics, no size estimate.
    await sql`delete from pg_statistic where starelid in ('bookings'::regclass,
      'meeting_links_pool'::regclass, 'midtrans_notifications'::regclass,
      'double_booking_checks'::regclass, 'meeting_link_holds'::regclass)`;
    await sql`update pg_class set reltuples = -1, relpages = 0 where oid in ('bookings'::regclass,
      'meeting_links_pool'::regclass, 'midtrans_notifications'::regclass,
      'double_booking_checks'::regclass, 'meeting_link_holds'::regclass)`;
  }

  await sql`select * from assign_meeting_link((select id from bookings where order_id = 'gst-new-1'))`;
  await sql`select * from assign_meeting_link((select id from bookings where order_id = 'gst-new-1'))`;
  await sql`select try_claim_meeting_link(b.id, ${
    links[11]
  }, b.slot, p_wait => true)
    from bookings b where order_id = 'gst-new-2'`;
  await sql`select assign_pending_meeting_links()`;
  await sql`select * from find_available_meeting_link('2031-03-02 10:00Z', '2031-03-02 11:00Z')`;
  // A settlement, then its refund, as signed and as Midtrans's status API confirms them.
  for (const status of ["settlement", "refund"]) {
    const notification = sql.json({
      order_id: "gst-new-5",
      transaction_id: "gst-t5",
      transaction_status: status,
      status_code: "200",
      gross_amount: "1000.00",
    });
    await sql`select * from record_midtrans_notification(${notification}, ${notification})`;
  }
  // Self-healing and the guard trigger, by hand-written admin SQL.
  await sql`update meeting_links_pool set is_available = false where id = ${
    links[0]
  }`;
  await sql`update meeting_links_pool set is_available = true where id = ${
    links[0]
  }`;
  await sql`update bookings set payment_status = 'refunded' where order_id = 'gst-1'`;
  await sql`update bookings set starts_at = starts_at + interval '5 minutes'
    where order_id = 'gst-13'`;
  await sql`select * from paid_bookings_sharing_a_link()`;
  await sql`select * from check_double_booking()`;
  // The customer's emails: an address, a move, the invite the deferred trigger writes (fired
  // here by hand, as this exercise never commits), its delivery claim.
  await sql`select * from refresh_time_zone_names()`;
  await sql`update bookings set customer_email = 'gst@example.com', customer_phone = '+6281200000000',
    customer_whatsapp_opt_in = true where order_id = 'gst-new-1'`;
  await sql`select * from reschedule_booking(
    (select id from bookings where order_id = 'gst-new-1'), '2031-03-03 10:15Z', '2031-03-03 11:15Z')`;
  await sql`set constraints all immediate`;
  await sql`set constraints all deferred`;
  await sql`select * from claim_booking_emails(10, '1 minute', 'example.com')`;
  // WhatsApp: the claim, Meta's answer, its statuses.
  const [message] =
    await sql`select * from claim_whatsapp_messages(10, '1 minute')`;
  await sql`select finish_whatsapp_message(${message.id}, ${message.lease_token},
    'wamid.gst', null)`;
  await sql`select * from record_whatsapp_statuses(${
    sql.json([{
      wamid: "wamid.gst",
      status: "read",
      at: "2031-03-01T00:00:00Z",
    }])
  })`;
  // Holds: two held, one held again, availability, an expired hold another takes, a held booking
  // paid by hand, one that expires, the sweep's cleanup, the endpoint's rate limit.
  const hold = (n: number) =>
    sql`select * from hold_meeting_link(
      (select id from bookings where order_id = ${"gst-hold-" + n}), 15)`;
  await hold(1);
  await hold(2);
  await hold(1);
  await sql`select * from meeting_link_availability(array[
    '[2031-03-04 10:00Z, 2031-03-04 11:00Z)', '[2031-03-04 12:00Z, 2031-03-05 12:00Z)',
    '[2031-03-02 10:00Z, 2031-03-02 10:30Z)']::tstzrange[])`;
  await sql`update meeting_link_holds set held_until = now() - interval '1 minute'
    where booking_id = (select id from bookings where order_id = 'gst-hold-2')`;
  await hold(3);
  await sql`update bookings set payment_status = 'paid' where order_id = 'gst-hold-1'`;
  await sql`update bookings set payment_status = 'expired' where order_id = 'gst-hold-3'`;
  await sql`select assign_pending_meeting_links()`;
  await sql`select take_rate_limit_token('gst', 1), take_rate_limit_token('gst', 1)`;
}

for (const withStatistics of [false, true]) {
  Deno.test(
    `no view or function query rescans a GiST index (${
      withStatistics ? "with" : "without"
    } planner statistics)`,
    async () => {
      const logged: LoggedPlan[] = [];
      const sql = connect({
        max: 1,
        onnotice: (notice) => {
          const message = String(notice.message ?? "");
          const at = message.indexOf("plan:\n");
          if (at < 0) return;
          const json = JSON.parse(message.slice(at + 6)) as {
            "Query Text": string;
            Plan: PlanNode;
          };
          logged.push({
            query: json["Query Text"],
            context: String(notice.where ?? ""),
            plan: json.Plan,
          });
        },
      });
      try {
        const gist = new Set(
          (await sql<{ name: string }[]>`
          select c.relname as name from pg_class c join pg_am a on a.oid = c.relam
          where a.amname = 'gist' and c.relnamespace = 'public'::regnamespace`)
            .map((r) => r.name),
        );
        assert.ok(gist.has("bookings_paid_slots_never_share_a_link"));
        // This project's functions that read a table, and its views: from the catalog.
        const functions = (await sql<{ name: string }[]>`
        select p.proname as name from pg_proc p
        where p.pronamespace = 'public'::regnamespace
          and pg_get_functiondef(p.oid) ~* '\\mfrom\\M'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                          and d.objid = p.oid and d.deptype = 'e')
        order by 1`).map((r) => r.name);
        const views = (await sql<{ name: string }[]>`
        select c.relname as name from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind = 'v'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
                          and d.objid = c.oid and d.deptype = 'e')
        order by 1`).map((r) => r.name);
        assert.ok(functions.length >= 15, `functions: ${functions}`);
        assert.ok(views.length >= 4, `views: ${views}`);

        await sql.begin(async (tx) => {
          await tx`load 'auto_explain'`;
          await tx`set local auto_explain.log_min_duration = 0`;
          await tx`set local auto_explain.log_nested_statements = on`;
          await tx`set local auto_explain.log_format = json`;
          await tx`set local auto_explain.log_level = notice`;
          await tx`set local client_min_messages = notice`;
          await exercise(tx as unknown as Sql, withStatistics);
          for (const view of views) await tx`select * from ${tx(view)}`;
          // The detector's control: the pre-guard meeting_link_pool_status, whose EXISTS per link
          // rescanned the GiST index (20261125160000_meeting_link_pool.sql).
          await tx`select count(*) filter (where exists (
            select 1 from public.bookings b
            where b.meeting_link_id = l.id and b.payment_status = 'paid' and b.slot @> now()))
          as links_in_a_meeting_now
          from public.meeting_links_pool l`;
          throw new Rollback();
        }).catch((error) => {
          if (!(error instanceof Rollback)) throw error;
        });

        const plansOf = (name: string) =>
          logged.filter((p) =>
            p.context.includes(`function public.${name}(`) ||
            p.context.includes(`function ${name}(`) ||
            new RegExp(`\\b${name}\\b`).test(p.query)
          );
        const notRun = functions.filter((name) => plansOf(name).length === 0)
          .concat(views.filter((name) => plansOf(name).length === 0));
        assert.deepEqual(
          notRun,
          [],
          "every function and view ran under auto_explain (add new ones to exercise())",
        );
        const control = logged.filter((p) =>
          p.query.includes("as links_in_a_meeting_now\n")
        );
        assert.equal(control.length, 1);
        assert.match(
          gistRescans(control[0].plan, gist).join(),
          /^Index (Only )?Scan on bookings_paid_slots_never_share_a_link \(a SubPlan\)$/,
          "the old view's EXISTS per link is caught",
        );
        const rescans = logged.filter((p) => p !== control[0]).flatMap((p) =>
          gistRescans(p.plan, gist).map((r) =>
            `${r} in: ${p.query.replace(/\s+/g, " ").slice(0, 160)} [${
              p.context.split("\n")[0]
            }]`
          )
        );
        assert.deepEqual(rescans, [], "no plan rescans a GiST index");
        assert.ok(logged.length > 50, `${logged.length} plans checked`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  );
}
