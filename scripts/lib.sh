# shellcheck shell=bash
# Shared code for scripts/start, scripts/test and scripts/reset. Source it; it sets no shell options
# and starts nothing by itself.
#
# The local stack mirrors `supabase start` without Docker: a plain PostgreSQL 15 cluster with what
# hosted Supabase adds (scripts/bootstrap.sql), migrations applied by the real Supabase CLI, and a
# small Deno server (scripts/serve.ts) standing in for the edge runtime.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PG_BIN=/usr/lib/postgresql/15/bin
PG_SHARE=/usr/share/postgresql/15
TOOLS_DIR="$ROOT/tools"
DENO="$TOOLS_DIR/node_modules/.bin/deno"
SUPABASE="$TOOLS_DIR/node_modules/.bin/supabase"

# Debian packages the stack needs: the server, pgTAP and pg_prove (tests), plpgsql_check
# (`supabase db lint`), pg_cron (loaded at server start, as hosted Supabase offers it).
APT_PACKAGES=(postgresql-15 postgresql-contrib postgresql-15-pgtap postgresql-15-plpgsql-check
  postgresql-15-cron libtap-parser-sourcehandler-pgtap-perl)

# The public demo credentials every local Supabase stack uses (`supabase status` prints the same).
# They are not secrets: they only open a database on 127.0.0.1.
LOCAL_JWT_SECRET=super-secret-jwt-token-with-at-least-32-characters-long
LOCAL_ANON_KEY=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0
LOCAL_SERVICE_ROLE_KEY=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU
LOCAL_PUBLISHABLE_KEY=sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH
LOCAL_SECRET_KEY=sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz
# A fake Midtrans server key: tests sign notifications with it. Never a real sandbox key.
LOCAL_MIDTRANS_SERVER_KEY=SB-Mid-server-LOCAL-TEST-KEY

# Permissions for the functions server and for `deno test`.
DENO_SERVE_FLAGS=(--no-prompt --allow-net --allow-env --allow-read)
DENO_TEST_FLAGS=(--no-prompt --allow-net --allow-env --allow-read --allow-write --allow-run --allow-sys)

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the OS user that owns the clusters: `postgres` when we are root (PostgreSQL
# refuses to run as root), the caller otherwise.
as_pg() {
  if is_root; then
    # From /, since postgres may not be allowed into the current folder (all paths are absolute).
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# --- installs ----------------------------------------------------------------------------------

missing_system_packages() {
  local missing=()
  [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/initdb" ] || missing+=(postgresql-15)
  [ -f "$PG_SHARE/extension/btree_gist.control" ] || missing+=(postgresql-contrib)
  [ -f "$PG_SHARE/extension/pgtap.control" ] || missing+=(postgresql-15-pgtap)
  [ -f "$PG_SHARE/extension/plpgsql_check.control" ] || missing+=(postgresql-15-plpgsql-check)
  [ -f "$PG_SHARE/extension/pg_cron.control" ] || missing+=(postgresql-15-cron)
  command -v pg_prove >/dev/null 2>&1 || missing+=(libtap-parser-sourcehandler-pgtap-perl)
  printf '%s\n' "${missing[@]}"
}

ensure_system_packages() {
  local missing
  missing="$(missing_system_packages)"
  [ -z "$missing" ] && return 0
  if ! is_root; then
    warn "error: missing Debian packages: $(echo "$missing" | tr '\n' ' ')"
    warn "Install them as root, then run this again:"
    warn "  sudo apt-get update && sudo apt-get install -y $(echo "$missing" | tr '\n' ' ')"
    exit 1
  fi
  local packages
  mapfile -t packages <<<"$missing"
  say "Installing Debian packages: ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  # Only what is missing: reinstalling postgresql-15 would upgrade it under running clusters.
  apt-get install -y -qq "${packages[@]}" >/dev/null || die "apt-get install ${packages[*]} failed"
  missing="$(missing_system_packages)"
  [ -z "$missing" ] || die "still missing after apt-get install: $missing"
}

# Pinned Deno and Supabase CLI from tools/package-lock.json. Reinstalled when the lockfile changed.
ensure_tools() {
  command -v npm >/dev/null 2>&1 || die "npm is required (Node.js 20 or newer)"
  local stamp="$TOOLS_DIR/node_modules/.lock-sha256" want
  want="$(sha256sum "$TOOLS_DIR/package-lock.json" | cut -d' ' -f1)"
  if [ -x "$DENO" ] && [ -x "$SUPABASE" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  say "Installing the pinned Deno and Supabase CLI (npm ci --prefix tools)"
  npm ci --prefix "$TOOLS_DIR" --no-audit --no-fund --loglevel=error >/dev/null ||
    die "npm ci --prefix tools failed"
  "$DENO" --version >/dev/null || die "tools/node_modules/.bin/deno does not run"
  "$SUPABASE" --version >/dev/null || die "tools/node_modules/.bin/supabase does not run"
  echo "$want" >"$stamp"
}

# npm packages of the root deno.json into node_modules/. frozen: fail when deno.lock is stale (CI).
ensure_deno_deps() { # [--frozen]
  if ! (cd "$ROOT" && "$DENO" install --quiet "$@"); then
    die "deno install failed${1:+ (deno.lock does not match deno.json: run tools/node_modules/.bin/deno install and commit deno.lock)}"
  fi
}

# --- ports ---------------------------------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free_port() { # port, what it is for
  if port_in_use "$1"; then
    die "port $1 (for $2) is already in use by another program. Stop it, or pick another port: $3"
  fi
}

# --- the local data folder ------------------------------------------------------------------------

# .local/ in the repo (git-ignored) holds the dev cluster (db/), logs (log/) and the start lock.
# As root, PostgreSQL runs as `postgres`, which may not reach a clone under a root-only folder
# (/root/...): then .local is a link to a folder under /var/lib/postgresql. Sets LOCAL_DIR.
ensure_local_dir() {
  LOCAL_DIR="$ROOT/.local"
  if [ -L "$LOCAL_DIR" ]; then
    mkdir -p "$(readlink "$LOCAL_DIR")"
  elif [ ! -e "$LOCAL_DIR" ] && is_root && ! runuser -u postgres -- test -x "$ROOT"; then
    local target
    target="/var/lib/postgresql/local-stack/$(basename "$ROOT")-$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)"
    mkdir -p "$target"
    ln -s "$target" "$LOCAL_DIR"
    say "PostgreSQL cannot reach $ROOT as user postgres: .local links to $target"
  fi
  mkdir -p "$LOCAL_DIR"
  # From here on the real path, which is what the postgres user can reach.
  LOCAL_DIR="$(readlink -f "$LOCAL_DIR")"
  if is_root; then
    chmod 755 "$LOCAL_DIR"
    runuser -u postgres -- test -x "$LOCAL_DIR" ||
      die "user postgres cannot reach $LOCAL_DIR; remove $ROOT/.local and run again"
  fi
}

# Function names: folders of supabase/functions with an index.ts, except _shared, _* and .*
ls_functions() {
  local dir
  for dir in "$ROOT"/supabase/functions/*/; do
    dir="${dir%/}"
    case "${dir##*/}" in _* | .*) continue ;; esac
    [ -f "$dir/index.ts" ] && echo "${dir##*/}"
  done
  return 0
}

# --- clusters ------------------------------------------------------------------------------------

db_url() { echo "postgresql://postgres:postgres@127.0.0.1:$1/postgres"; }

# psql against a cluster on a port, as the `postgres` superuser over TCP.
psql_at() { # port, psql args...
  local port="$1"
  shift
  PGPASSWORD=postgres PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres \
    -d postgres "$@"
}

# An empty folder owned by the cluster's OS user (postgres when root).
make_pg_dir() { # dir
  mkdir -p "$1"
  if is_root; then chown postgres: "$1"; fi
  chmod 700 "$1"
}

# Create a cluster in an empty or missing directory that the cluster's OS user can write to.
# extra_conf: lines appended to postgresql.conf (e.g. durability off for throwaway clusters).
init_cluster() { # datadir, extra_conf
  local datadir="$1" extra="${2:-}" pwfile
  pwfile="$(mktemp)"
  echo postgres >"$pwfile"
  if is_root; then chown postgres "$pwfile"; fi
  if ! as_pg "$PG_BIN/initdb" -D "$datadir" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 >"$datadir.initdb.log" 2>&1; then
    rm -f "$pwfile"
    cat "$datadir.initdb.log" >&2
    die "initdb failed for $datadir"
  fi
  rm -f "$pwfile" "$datadir.initdb.log"
  # TCP only (an empty unix_socket_directories avoids socket path length and permission trouble);
  # pg_cron must be preloaded, as on hosted Supabase.
  as_pg tee -a "$datadir/postgresql.conf" >/dev/null <<EOF

# --- local Supabase stack (scripts/lib.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
# Jobs run in background workers: no libpq login, so no password is needed for them.
cron.use_background_workers = on
password_encryption = 'scram-sha-256'
timezone = 'UTC'
$extra
EOF
}

cluster_running() { # datadir
  [ -f "$1/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

start_cluster() { # datadir, port, logfile
  local datadir="$1" port="$2" logfile="$3"
  # 9>&- : do not hand the start lock (scripts/start) to the long-lived server.
  if ! as_pg "$PG_BIN/pg_ctl" -D "$datadir" -l "$logfile" -o "-p $port" -w -t 60 start >/dev/null 9>&-; then
    tail -n 20 "$logfile" >&2 2>/dev/null || true
    die "PostgreSQL did not start on port $port (log: $logfile)"
  fi
}

stop_cluster() { # datadir
  if cluster_running "$1"; then
    as_pg "$PG_BIN/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null || warn "pg_ctl stop failed for $1"
  fi
}

# Bootstrap (roles, schemas, auth helpers hosted Supabase has), then the migrations through the
# real CLI, exactly as `supabase db push` would apply them to a hosted project.
prepare_database() { # port
  local port="$1"
  psql_at "$port" -f "$ROOT/scripts/bootstrap.sql" >/dev/null || die "scripts/bootstrap.sql failed"
  apply_migrations "$port"
}

apply_migrations() { # port
  local port="$1" out
  mkdir -p "$ROOT/supabase/migrations"
  # --include-all: also apply a migration older than the newest applied one (two people adding
  # migrations in parallel); --yes: no prompt. Runs from the repo root, where supabase/ is.
  if ! out="$(cd "$ROOT" && "$SUPABASE" db push --db-url "$(db_url "$port")?sslmode=disable" \
    --include-all --yes 2>&1 </dev/null)"; then
    printf '%s\n' "$out" >&2
    die "supabase db push failed"
  fi
  printf '%s\n' "$out" | grep -E '^(Applying migration|Remote database is up to date|Finished)' || true
}

# --- the functions server ------------------------------------------------------------------------

# Export the environment hosted Supabase gives a function, pointing at the given ports. Values
# already in the environment win, so any of them can be overridden.
export_function_env() { # api_port, db_port
  local publishable="{\"default\":\"$LOCAL_PUBLISHABLE_KEY\"}" secret="{\"default\":\"$LOCAL_SECRET_KEY\"}"
  export SUPABASE_URL="${SUPABASE_URL:-http://127.0.0.1:$1}"
  export SUPABASE_DB_URL="${SUPABASE_DB_URL:-$(db_url "$2")}"
  export SUPABASE_ANON_KEY="${SUPABASE_ANON_KEY:-$LOCAL_ANON_KEY}"
  export SUPABASE_SERVICE_ROLE_KEY="${SUPABASE_SERVICE_ROLE_KEY:-$LOCAL_SERVICE_ROLE_KEY}"
  export SUPABASE_PUBLISHABLE_KEYS="${SUPABASE_PUBLISHABLE_KEYS:-$publishable}"
  export SUPABASE_SECRET_KEYS="${SUPABASE_SECRET_KEYS:-$secret}"
  export SUPABASE_JWT_SECRET="${SUPABASE_JWT_SECRET:-$LOCAL_JWT_SECRET}"
  export MIDTRANS_SERVER_KEY="${MIDTRANS_SERVER_KEY:-$LOCAL_MIDTRANS_SERVER_KEY}"
}

# The first key of a SUPABASE_*_KEYS JSON object such as {"default":"sb_..."}.
first_key() { sed -E 's/^[^:]*:[[:space:]]*"([^"]*)".*$/\1/' <<<"$1"; }

# Start the functions server in the background; sets FUNCTIONS_PID. Output goes to logfile.
start_functions_server() { # port, logfile
  FUNCTIONS_PORT="$1" FUNCTIONS_HOST=127.0.0.1 \
    "$DENO" run "${DENO_SERVE_FLAGS[@]}" --config "$ROOT/deno.json" "$ROOT/scripts/serve.ts" \
    >>"$2" 2>&1 </dev/null 9>&- &
  FUNCTIONS_PID=$!
}

# --- the Midtrans sandbox stand-in ----------------------------------------------------------------

# Start scripts/midtrans_sandbox.ts (Get Status API and the control API tests and developers pay
# with) on a port, notifying the functions server on api_port, with MIDTRANS_SERVER_KEY (exported by
# export_function_env), and point the functions at it: MIDTRANS_API_URL. Sets MIDTRANS_SANDBOX_PID.
start_midtrans_sandbox() { # port, api_port, logfile
  MIDTRANS_SANDBOX_HOST=127.0.0.1 MIDTRANS_SANDBOX_PORT="$1" \
    MIDTRANS_NOTIFICATION_URL="http://127.0.0.1:$2/functions/v1/midtrans-webhook" \
    "$DENO" run --no-prompt --allow-net --allow-env "$ROOT/scripts/midtrans_sandbox.ts" \
    >>"$3" 2>&1 </dev/null 9>&- &
  MIDTRANS_SANDBOX_PID=$!
  export MIDTRANS_API_URL="http://127.0.0.1:$1"
  local deadline=$((SECONDS + 30))
  until [ "$(http_status "$1" /_sandbox/health 2>/dev/null)" = 200 ]; do
    if ! kill -0 "$MIDTRANS_SANDBOX_PID" 2>/dev/null || ((SECONDS >= deadline)); then
      tail -n 20 "$3" >&2
      die "the Midtrans sandbox stand-in did not start on port $1"
    fi
    sleep 0.2
  done
}

# HTTP GET with bash alone (no curl on a bare machine): prints the status code.
http_status() { # port, path
  local status
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&3
  read -r -t 5 _ status _ <&3 || status=""
  exec 3<&- 3>&-
  echo "$status"
}

# Wait until the functions server answers its health check, or its process died.
wait_for_functions_server() { # port, pid, seconds
  local port="$1" pid="$2" deadline=$((SECONDS + ${3:-60}))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(http_status "$port" /_local/health 2>/dev/null)" = 200 ] && return 0
    sleep 0.3
  done
  return 1
}

# Stop a process we started: SIGTERM, then SIGKILL after a grace period.
stop_process() { # pid, seconds
  local pid="$1" deadline=$((SECONDS + ${2:-15}))
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  wait "$pid" 2>/dev/null || true
}
