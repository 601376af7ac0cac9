-- Local-only bootstrap: what every hosted Supabase database already has and plain PostgreSQL lacks.
-- NOT a migration: `supabase db push` to a hosted project must never run this. scripts/lib.sh applies
-- it before the migrations on every start and test run, so it is idempotent.
-- Modelled on supabase/postgres (migrations/db/init-scripts) and supabase/auth (migrations).

-- The API roles. PostgREST logs in as `authenticator` and switches to the role named in the JWT.
do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
end
$$;
grant anon, authenticated, service_role to authenticator;

-- Extensions live in their own schema on hosted Supabase, reachable by the API roles.
create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;

-- auth.uid(), auth.role(), auth.jwt() read the claims PostgREST puts in `request.jwt.claims`
-- (and the older per-claim settings), as supabase/auth defines them. Tests switch identity with
-- `set local role authenticated; set local request.jwt.claims = '{"sub": "...", ...}'`.
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

-- The part of auth.users that migrations may reference (bookings.customer_user_id). Hosted
-- Supabase's table has many more columns, all managed by Supabase Auth.
create table if not exists auth.users (
  instance_id uuid,
  id uuid not null primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select nullif(
    coalesce(
      current_setting('request.jwt.claim.sub', true),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    ),
    ''
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select nullif(
    coalesce(
      current_setting('request.jwt.claim.role', true),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    ),
    ''
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

-- Hosted Supabase grants everything that `postgres` creates in `public` to the API roles by
-- default, so a new table is readable by `anon` until a migration revokes it or enables RLS.
-- Mirror that, so the migrations must be explicit and the security tests mean something.
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on sequences to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on functions to postgres, anon, authenticated, service_role;
