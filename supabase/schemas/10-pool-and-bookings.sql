-- The pool of links and the bookings that hold them: the two tables everything else reads, and
-- the row rules every writer (function, trigger or admin SQL) follows.

create table public.meeting_links_pool (
  id uuid primary key default gen_random_uuid(),
  meeting_link text not null
    constraint meeting_links_pool_meeting_link_key unique
    constraint meeting_links_pool_link_is_a_google_meet_url
      check (meeting_link ~ '^https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}$'),
  is_available boolean not null default true,
  max_uses integer
    constraint meeting_links_pool_max_uses_is_positive check (max_uses > 0),
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.meeting_links_pool is
  'Pre-generated Google Meet links. Add links with INSERT, retire one with is_available = false '
  '(bookings that already hold it keep it). A link is handed to paid bookings whose slots do not overlap.';

comment on column public.meeting_links_pool.meeting_link is
  'https://meet.google.com/xxx-xxxx-xxx: lowercase Meet code, no whitespace, no query string.';

comment on column public.meeting_links_pool.is_available is
  'false: never assigned again. Re-enabling it assigns waiting paid bookings it can serve.';

comment on column public.meeting_links_pool.max_uses is
  'Optional: the link is retired from assignment once this many paid bookings hold it (link hygiene).';

alter table public.meeting_links_pool enable row level security;

-- The names bookings.customer_time_zone may take, checked by a foreign key: a CHECK reading
-- pg_timezone_names (which parses every zone file: 6-20 ms) would run on every write of a booking;
-- the foreign key probes one index, only when the zone is set or changed.
create table public.time_zone_names (
  name text constraint time_zone_names_pkey primary key
);
alter table public.time_zone_names enable row level security;
comment on table public.time_zone_names is
  'The names bookings.customer_time_zone may take: the IANA Area/Location names (and UTC) of this '
  'server''s pg_timezone_names, not abbreviations (WIB) nor POSIX rules. After a tzdata or '
  'PostgreSQL update: select * from public.refresh_time_zone_names().';

-- Columns are listed in the order the table has them (a column added later comes last).
create table public.bookings (
  id uuid primary key default gen_random_uuid(),
  order_id text not null
    constraint bookings_order_id_key unique
    constraint bookings_order_id_is_a_midtrans_order_id
      check (order_id ~ '^[A-Za-z0-9._~-]{1,50}$'),
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  slot tstzrange not null generated always as (tstzrange(starts_at, ends_at, '[)')) stored,
  amount numeric(14, 2) not null
    constraint bookings_amount_is_positive check (amount > 0),
  payment_status text not null default 'pending'
    constraint bookings_payment_status_is_known
      check (payment_status in ('pending', 'paid', 'failed', 'expired', 'cancelled', 'refunded')),
  paid_at timestamptz,
  paid_transaction_id text,
  meeting_link_id uuid
    constraint bookings_meeting_link_id_fkey references public.meeting_links_pool (id) on delete restrict,
  needs_manual_link boolean not null default false,
  review_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Who the customer is (the emails, and a customer who logs in).
  customer_email text
    -- The HTML standard's valid e-mail address, ASCII only: no space, quote, comma, angle
    -- bracket or line break can reach a mail header through it.
    constraint bookings_customer_email_is_an_address check (
      char_length(customer_email) <= 254 and customer_email ~
      '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$'),
  customer_name text
    constraint bookings_customer_name_is_one_line
      check (char_length(customer_name) between 1 and 200 and customer_name !~ '[[:cntrl:]]'),
  customer_time_zone text not null default 'Asia/Jakarta'
    constraint bookings_customer_time_zone_is_known references public.time_zone_names (name),
  locale text not null default 'id'
    constraint bookings_locale_is_supported check (locale in ('en', 'id')),
  customer_user_id uuid
    constraint bookings_customer_user_id_fkey references auth.users (id) on delete set null,
  customer_phone text
    constraint bookings_customer_phone_is_e164 check (customer_phone ~ '^\+[1-9][0-9]{7,14}$'),
  customer_whatsapp_opt_in boolean not null default false,
  constraint bookings_ends_after_it_starts check (ends_at > starts_at),
  constraint bookings_last_at_most_a_day check (ends_at - starts_at <= interval '24 hours'),
  constraint bookings_only_paid_bookings_hold_a_link
    check (payment_status = 'paid' or meeting_link_id is null),
  constraint bookings_manual_flag_only_while_waiting
    check (not needs_manual_link or (payment_status = 'paid' and meeting_link_id is null)),
  constraint bookings_paid_slots_never_share_a_link
    exclude using gist (meeting_link_id with =, slot with &&) where (payment_status = 'paid')
);

alter table public.bookings enable row level security;

-- Anon reads nothing; a customer who logs in reads their own bookings (and the links they hold)
-- through PostgREST, limited to some columns by the grants in 90-access.sql.
create policy bookings_customers_read_their_own on public.bookings
  for select to authenticated
  using ((select auth.uid()) = customer_user_id);
comment on policy bookings_customers_read_their_own on public.bookings is
  'A logged-in customer sees their own bookings; column grants limit them to slot, payment status '
  'and link.';

create policy meeting_links_pool_customers_read_their_links on public.meeting_links_pool
  for select to authenticated
  using (id in (select b.meeting_link_id from public.bookings b where b.payment_status = 'paid'));
comment on policy meeting_links_pool_customers_read_their_links on public.meeting_links_pool is
  'A logged-in customer sees the links their own paid bookings hold.';

comment on table public.bookings is
  'Bookings, as far as payments and meeting links go. A booking becomes paid only through a '
  'verified Midtrans notification (or an admin); a paid booking gets a link no overlapping paid booking holds.';

comment on column public.bookings.order_id is 'The Midtrans order_id of this booking''s payment.';

comment on column public.bookings.slot is
  'Half-open [starts_at, ends_at): back-to-back bookings can share a link. Instants, so time zones never matter.';

comment on column public.bookings.amount is 'IDR; Midtrans must report exactly this as gross_amount.';

comment on column public.bookings.paid_transaction_id is
  'The Midtrans transaction that paid: only its own deny, cancel or refund can undo the payment.';

comment on column public.bookings.needs_manual_link is
  'Paid, but the pool had no free link when it was assigned. Cleared when a link is assigned.';

comment on column public.bookings.review_reason is
  'Why a notification for this booking needs a person: e.g. an amount or currency that does not match.';

comment on constraint bookings_paid_slots_never_share_a_link on public.bookings is
  'No two paid bookings hold the same link for overlapping slots, whoever writes the row.';

comment on constraint bookings_customer_time_zone_is_known on public.bookings is
  'customer_time_zone is an IANA name this server knows (public.time_zone_names); refused: 23503.';

comment on column public.bookings.customer_email is
  'Where the customer''s emails go (link, calendar invite, changes). null: nobody is emailed.';

comment on column public.bookings.customer_name is 'How emails greet the customer (one line, at most 200 characters).';

comment on column public.bookings.customer_time_zone is
  'IANA name (Asia/Jakarta): emails show the slot in this zone, e.g. 10.00 WIB.';

comment on column public.bookings.locale is 'Language of the customer''s emails: id (Bahasa Indonesia) or en.';

comment on column public.bookings.customer_user_id is
  'The auth.users account of a customer who logs in: they may read this booking''s slot, payment '
  'status and meeting link (RLS).';

comment on column public.bookings.customer_phone is
  'The customer''s WhatsApp number in E.164 (+6281234567890). Messages go there only with '
  'customer_whatsapp_opt_in.';
comment on column public.bookings.customer_whatsapp_opt_in is
  'The customer agreed to get this booking''s messages on WhatsApp (WhatsApp requires it).';
comment on constraint bookings_customer_phone_is_e164 on public.bookings is
  'E.164: a plus sign, then 8 to 15 digits, the first not 0.';


create function public.refresh_time_zone_names()
returns table (name text, change text)
language plpgsql
set search_path = ''
as $$
declare
  v_current text[];
begin
  -- Area/Location names (and UTC) that both PostgreSQL and the functions' Intl know; not
  -- abbreviations (WIB) nor POSIX rules, whose meaning differs between systems.
  v_current := array(select z.name from pg_catalog.pg_timezone_names z
    where z.name ~ '^((Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)?|UTC)$');

  return query
    insert into public.time_zone_names as t (name)
    select c.name from unnest(v_current) as c(name)
    on conflict on constraint time_zone_names_pkey do nothing
    returning t.name, 'added'::text;
  -- A name the server no longer knows stays while a booking holds it (its emails still render).
  return query
    delete from public.time_zone_names t
    where t.name <> all (v_current)
      and not exists (select 1 from public.bookings b where b.customer_time_zone = t.name)
    returning t.name, 'removed'::text;
  return query
    select t.name, 'unknown to the server, kept: bookings hold it'::text
    from public.time_zone_names t
    where t.name <> all (v_current);
end;
$$;
comment on function public.refresh_time_zone_names() is
  'Admin, after a tzdata or PostgreSQL update: makes time_zone_names match the server''s IANA '
  'names. Returns each name added or removed, and each unknown one kept because bookings hold it.';

-- The names this server knows today (scripts/restore brings the table's rows back with the rest).
select count(*) from public.refresh_time_zone_names();

-- Paid bookings waiting for a link: the sweep's and the health check's range.
create index bookings_waiting_for_link_idx on public.bookings (starts_at)
  where payment_status = 'paid' and meeting_link_id is null;

create index bookings_customer_user_id_idx on public.bookings (customer_user_id)
  where customer_user_id is not null;

create function public.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

comment on function public.touch_updated_at() is 'Trigger: keeps updated_at current.';

create trigger meeting_links_pool_touch_updated_at
  before update on public.meeting_links_pool
  for each row execute function public.touch_updated_at();

create trigger bookings_touch_updated_at
  before update on public.bookings
  for each row execute function public.touch_updated_at();

create function public.bookings_keep_payment_rules()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.payment_status = 'paid' then
    new.paid_at := coalesce(new.paid_at, now());
    -- Becoming paid without naming a new paying transaction (by hand): no transaction paid it
    -- this time, so none may undo it. The webhook names the one it applies; should that be the
    -- one that paid before an undo by hand, the booking counts as paid by hand too.
    if tg_op = 'UPDATE' and old.payment_status <> 'paid'
       and coalesce(new.paid_transaction_id, '') = coalesce(old.paid_transaction_id, '') then
      new.paid_transaction_id := null;
    end if;
  elsif tg_op = 'UPDATE' and old.payment_status = 'paid' then
    -- A booking that stops being paid gives its slot on the link back.
    new.meeting_link_id := null;
  end if;
  if new.meeting_link_id is not null or new.payment_status <> 'paid' then
    new.needs_manual_link := false;
  end if;
  return new;
end;
$$;

comment on function public.bookings_keep_payment_rules() is
  'Trigger: a paid booking has paid_at; one that becomes paid without a new paid_transaction_id '
  '(by hand) has none, so only an admin undoes it; one that stops being paid lets go of its link; '
  'a booking with a link is not waiting for one.';

create trigger bookings_keep_payment_rules
  before insert or update on public.bookings
  for each row execute function public.bookings_keep_payment_rules();
