// meeting_link_availability() against a brute-force model: random pools (retired links, max_uses),
// paid bookings and holds (live and expired) written through the guards, random slots (some a
// few days apart, so the function reads several stretches). The model reads back what the
// database kept and counts, per slot, the links that could still take it.
import assert from "node:assert/strict";
import fc from "fast-check";
import { meetLink, resetData, type Sql, withSql } from "../support/mod.ts";

const BASE = Date.parse("2031-06-01T00:00:00Z");
const HOUR = 3_600_000;
const at = (halfHours: number) => new Date(BASE + halfHours * HOUR / 2);

const span = fc.record({
  day: fc.constantFrom(0, 0, 0, 3),
  start: fc.integer({ min: 0, max: 20 }), // half hours
  length: fc.integer({ min: 1, max: 8 }),
});
const occupant = fc.record({
  kind: fc.constantFrom("paid", "live", "expired"),
  link: fc.nat(),
  span,
});
const scenario = fc.record({
  links: fc.array(
    fc.record({
      available: fc.constantFrom(true, true, true, false),
      maxUses: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  occupants: fc.array(occupant, { maxLength: 12 }),
  slots: fc.array(span, { minLength: 1, maxLength: 6 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;
type Span = { day: number; start: number; length: number };
const startOf = (s: Span) => at(s.day * 48 + s.start);
const endOf = (s: Span) => at(s.day * 48 + s.start + s.length);

async function write(sql: Sql, s: Scenario) {
  // Faster than truncate for a handful of rows, 200 times over.
  await sql`delete from meeting_link_holds`;
  await sql`delete from bookings`;
  await sql`delete from meeting_links_pool`;
  const links: string[] = [];
  for (const [i, link] of s.links.entries()) {
    const [{ id }] = await sql`
      insert into meeting_links_pool (meeting_link, is_available, max_uses)
      values (${meetLink(i + 1, "prp")}, ${link.available}, ${link.maxUses})
      returning id`;
    links.push(id);
  }
  for (const [i, o] of s.occupants.entries()) {
    const [{ id }] = await sql`
      insert into bookings (order_id, starts_at, ends_at, amount)
      values (${"prop-" + i}, ${startOf(o.span)}, ${endOf(o.span)}, 1000)
      returning id`;
    const link = links[o.link % links.length];
    // The guards refuse what would overlap (23P01): the model reads back what was kept.
    const written = o.kind === "paid"
      ? sql`update bookings set payment_status = 'paid', meeting_link_id = ${link}
          where id = ${id}`
      : sql`insert into meeting_link_holds (booking_id, meeting_link_id, starts_at, ends_at,
            held_until)
          values (${id}, ${link}, ${startOf(o.span)}, ${endOf(o.span)},
            now() + ${o.kind === "live" ? "1 hour" : "-1 hour"}::interval)`;
    await written.catch((error) => {
      if (error.code !== "23P01") throw error;
    });
  }
}

type Occupied = { link: string; starts: Date; ends: Date };

async function model(sql: Sql, slots: Span[]): Promise<number[]> {
  const links = await sql<
    { id: string; is_available: boolean; max_uses: number | null }[]
  >`select id, is_available, max_uses from meeting_links_pool`;
  const paid = await sql<Occupied[]>`
    select meeting_link_id as link, starts_at as starts, ends_at as ends from bookings
    where meeting_link_id is not null`;
  const live = await sql<Occupied[]>`
    select meeting_link_id as link, starts_at as starts, ends_at as ends from meeting_link_holds
    where held_until > now()`;
  const occupied = [...paid, ...live];
  return slots.map((slot) =>
    links.filter((l) => {
      const uses = occupied.filter((o) => o.link === l.id).length;
      const overlapping = occupied.some((o) =>
        o.link === l.id && o.starts < endOf(slot) && o.ends > startOf(slot)
      );
      return l.is_available && (l.max_uses === null || uses < l.max_uses) &&
        !overlapping;
    }).length
  );
}

Deno.test("meeting_link_availability equals a brute-force count on 200 random pools, bookings, holds and slots", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await write(sql, s);
        const ranges = s.slots.map((slot) =>
          `"[${startOf(slot).toISOString()},${endOf(slot).toISOString()})"`
        );
        const rows = await sql<{ free: number }[]>`
          select free from meeting_link_availability(${`{${ranges}}`}::text::tstzrange[])
          order by slot_index`;
        assert.deepEqual(rows.map((r) => r.free), await model(sql, s.slots));
        cases++;
      }),
      { numRuns: 200 },
    );
    assert.ok(cases >= 200);
    await resetData(sql);
  });
});
