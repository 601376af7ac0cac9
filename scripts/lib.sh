# shellcheck shell=bash
# Shared code for scripts/start, scripts/test, scripts/reset and bench/run. Source it; it sets no
# shell options and starts nothing by itself.
#
# The local stack mirrors `supabase start` without Docker: a plain PostgreSQL cluster with what
# hosted Supabase adds (scripts/bootstrap.sql), migrations applied by the real Supabase CLI, and a
# small Deno server (scripts/serve.ts) standing in for the edge runtime.
#
# PostgreSQL major: PG_MAJOR, else `major_version` in supabase/config.toml (17, what new hosted
# projects run). 15 is Debian 12's own and comes from apt. Any other major comes from Debian 13
# (trixie): a root made once per machine with debootstrap (ensure_pg_root), in which the server runs
# as that root's `postgres` user (chroot). Clients (psql, pg_prove, the Supabase CLI, Deno) always
# run outside it. Paths are the same inside and outside: the root holds a link from its own host
# path to /, so a data folder made under the root on the host has that same path in the chroot.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
TOOLS_DIR="$ROOT/tools"
DENO="$TOOLS_DIR/node_modules/.bin/deno"
SUPABASE="$TOOLS_DIR/node_modules/.bin/supabase"
# squawk-cli's linux-x64 binary package (tools/package.json says why not squawk-cli itself).
SQUAWK="$TOOLS_DIR/node_modules/@squawk-cli/linux-x64/bin/squawk"
# The public demo keys and the fake Midtrans key, in the one file the scripts, the tests and
# `deno task serve` read.
LOCAL_ENV_FILE="$ROOT/scripts/local.env"

# The major Debian 12 packages; psql and pg_prove come from it for every major (psql 15 talks to 17).
HOST_PG_MAJOR=15
CLIENT_BIN=/usr/lib/postgresql/$HOST_PG_MAJOR/bin
# Roots of other majors: a machine-wide cache, so fresh clones on this machine reuse them.
PG_ROOT_CACHE="${PG_ROOT_CACHE:-/var/cache/meet-link-pool}"
PG_ROOT_SUITE=trixie
PG_ROOT_MIRROR="${PG_ROOT_MIRROR:-http://deb.debian.org/debian}"

# Permissions for the functions server and for `deno test`.
DENO_SERVE_FLAGS=(--no-prompt --allow-net --allow-env --allow-read)
DENO_TEST_FLAGS=(--no-prompt --allow-net --allow-env --allow-read --allow-write --allow-run --allow-sys)

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# The running script's usage: its header comment, from line 2 to `set -euo pipefail`.
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# For a script that takes no arguments: --help prints its usage, anything else is refused (so
# `scripts/reset --help` never wipes anything).
no_arguments() { # "$@"
  local name
  name="$(basename "$(dirname "$0")")/$(basename "$0")"
  case "${1:-}" in
    "") ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "$name takes no arguments, not $1 (see $name --help)" ;;
  esac
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# The OS user that owns clusters of PG_MAJOR, as uid:gid: the root's `postgres` for a major that
# runs in a root, the host's `postgres` when we are root (PostgreSQL refuses to run as root), else
# the caller.
pg_owner() {
  if [ -n "$PG_SERVER_ROOT" ]; then
    stat -c %u:%g "$PG_SERVER_ROOT/var/lib/postgresql"
  elif is_root; then
    echo "$(id -u postgres):$(id -g postgres)"
  else
    echo "$(id -u):$(id -g)"
  fi
}

# Run a server program of PG_MAJOR (initdb, pg_ctl) as the clusters' OS user, in the major's root
# when it has one. From /, since that user may not be allowed into the current folder.
pg_server() { # program, args...
  local program="$PG_BIN/$1"
  shift
  if [ -n "$PG_SERVER_ROOT" ]; then
    (cd / && chroot --userspec="$(pg_owner)" "$PG_SERVER_ROOT" \
      env -i PATH=/usr/bin:/bin HOME=/var/lib/postgresql LANG=C.UTF-8 "$program" "$@")
  elif is_root; then
    (cd / && runuser -u postgres -- "$program" "$@")
  else
    "$program" "$@"
  fi
}

# --- installs ----------------------------------------------------------------------------------

# Debian packages the host needs: the 15 server, pgTAP and pg_prove (tests), plpgsql_check
# (`supabase db lint`), pg_cron (loaded at server start, as hosted Supabase offers it), and curl
# (the docs' curl examples are run by a test).
missing_system_packages() {
  local bin=/usr/lib/postgresql/15/bin share=/usr/share/postgresql/15 missing=()
  [ -x "$bin/pg_ctl" ] && [ -x "$bin/initdb" ] && [ -x "$bin/psql" ] || missing+=(postgresql-15)
  [ -f "$share/extension/btree_gist.control" ] || missing+=(postgresql-contrib)
  [ -f "$share/extension/pgtap.control" ] || missing+=(postgresql-15-pgtap)
  [ -f "$share/extension/plpgsql_check.control" ] || missing+=(postgresql-15-plpgsql-check)
  [ -f "$share/extension/pg_cron.control" ] || missing+=(postgresql-15-cron)
  command -v pg_prove >/dev/null 2>&1 || missing+=(libtap-parser-sourcehandler-pgtap-perl)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  printf '%s\n' "${missing[@]}"
}

apt_install() { # packages...
  say "Installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

# The host's packages, then the root of PG_MAJOR when it is not the host's.
ensure_system_packages() {
  local missing
  missing="$(missing_system_packages)"
  if [ -n "$missing" ]; then
    if ! is_root; then
      warn "error: missing Debian packages: $(echo "$missing" | tr '\n' ' ')"
      warn "Install them as root, then run this again:"
      warn "  sudo apt-get update && sudo apt-get install -y $(echo "$missing" | tr '\n' ' ')"
      exit 1
    fi
    local packages
    mapfile -t packages <<<"$missing"
    # Only what is missing: reinstalling postgresql-15 would upgrade it under running clusters.
    apt_install "${packages[@]}"
    missing="$(missing_system_packages)"
    [ -z "$missing" ] || die "still missing after apt-get install: $missing"
  fi
  if [ -n "$PG_SERVER_ROOT" ]; then ensure_pg_root; fi
}

# --- the PostgreSQL major ------------------------------------------------------------------------

config_major() {
  sed -nE 's/^[[:space:]]*major_version[[:space:]]*=[[:space:]]*([0-9]+).*/\1/p' \
    "$ROOT/supabase/config.toml" | head -n 1
}

# Select the major every function below works with. Sets PG_MAJOR (exported: scripts/pg-bin reads
# it), PG_SERVER_ROOT (empty: the host's server) and PG_BIN (the server's programs, as the server
# sees them).
use_pg_major() { # major
  case "$1" in
    "$HOST_PG_MAJOR" | 17) ;;
    *) die "PG_MAJOR=$1: this stack runs PostgreSQL 17 (Debian $PG_ROOT_SUITE) or $HOST_PG_MAJOR (this Debian)" ;;
  esac
  export PG_MAJOR="$1"
  PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
  if [ "$PG_MAJOR" = "$HOST_PG_MAJOR" ]; then
    PG_SERVER_ROOT=""
  else
    PG_SERVER_ROOT="$PG_ROOT_CACHE/pg$PG_MAJOR-$PG_ROOT_SUITE"
  fi
}

# Packages of the root, and the stamp that says a build of exactly these finished.
pg_root_packages() {
  echo "postgresql-$PG_MAJOR postgresql-$PG_MAJOR-cron postgresql-$PG_MAJOR-pgtap postgresql-$PG_MAJOR-plpgsql-check"
}
pg_root_stamp() { echo "$PG_SERVER_ROOT/.meet-link-pool-root-complete"; }

# Mount points under a folder (a build killed mid-way may leave /proc mounted in it).
mounts_under() { # dir
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r
}

# Remove a root safely: unmount anything left mounted in it first, never follow into the host.
remove_root() { # dir
  local mount
  for mount in $(mounts_under "$1"); do umount -l "$mount" || die "cannot unmount $mount"; done
  [ -z "$(mounts_under "$1")" ] || die "$1 still has mounts; not removing it"
  rm -rf --one-file-system -- "$1"
}

# Build the root of PG_MAJOR once per machine: debootstrap (minbase) of Debian's release that
# packages it, then the server and our extensions from Debian's own packages. Built in a side
# folder and renamed when complete, with a stamp naming its packages: a build that was interrupted
# or that lacks a package is redone. Concurrent runs wait for one build (flock).
ensure_pg_root() {
  local root="$PG_SERVER_ROOT" stamp want partial lock started
  stamp="$(pg_root_stamp)"
  want="$(pg_root_packages)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  is_root || die "PostgreSQL $PG_MAJOR runs in a root built with debootstrap and chroot, which needs root. Run as root, or use PG_MAJOR=$HOST_PG_MAJOR."
  mkdir -p "$PG_ROOT_CACHE"
  exec {lock}>"$root.lock"
  if ! flock -n "$lock"; then
    say "Waiting for another run to finish building $root"
    flock "$lock"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exec {lock}>&-
    return 0
  fi
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  partial="$root.partial"
  started=$SECONDS
  say "Building a Debian $PG_ROOT_SUITE root for PostgreSQL $PG_MAJOR in $root"
  say "  (once per machine: about a minute and 570 MB; log in $root.build.log)"
  remove_root "$partial"
  # In a subshell whose trap unmounts the proc mount apt's scripts use, however the build ends.
  if ! (
    trap 'umount -l "$partial/proc" 2>/dev/null || true' EXIT
    trap 'exit 130' INT TERM
    # && throughout: set -e does not apply inside an if condition.
    debootstrap --variant=minbase "$PG_ROOT_SUITE" "$partial" "$PG_ROOT_MIRROR" &&
      pg_root_configure "$partial" &&
      mount -t proc proc "$partial/proc" &&
      chroot "$partial" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -c "apt-get update -qq && apt-get install -y -q --no-install-recommends $want && apt-get clean"
  ) >"$root.build.log" 2>&1; then
    tail -n 30 "$root.build.log" >&2
    die "building the PostgreSQL $PG_MAJOR root failed (log: $root.build.log); run again to retry"
  fi
  local share="$partial/usr/share/postgresql/$PG_MAJOR/extension" ext
  for ext in btree_gist pageinspect pg_cron pgtap plpgsql_check; do
    [ -f "$share/$ext.control" ] || die "the PostgreSQL $PG_MAJOR root lacks the extension $ext"
  done
  # Host paths under the root resolve to the same files inside it (see the top of this file).
  mkdir -p "$partial$(dirname "$root")"
  ln -sfn / "$partial$root"
  echo "$want" >"$partial/${stamp#"$root"/}"
  remove_root "$root"
  mv "$partial" "$root"
  exec {lock}>&-
  say "Built $root in $((SECONDS - started)) s ($(du -sh --one-file-system "$root" | cut -f1))."
}

# Before installing: start no service inside the root, and create no default cluster there.
pg_root_configure() { # dir
  cp /etc/resolv.conf "$1/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
  chmod 755 "$1/usr/sbin/policy-rc.d"
  mkdir -p "$1/etc/postgresql-common"
  echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.conf"
  # Keep that file when postgresql-common installs its own.
  echo 'Dpkg::Options { "--force-confdef"; "--force-confold"; }' >"$1/etc/apt/apt.conf.d/90keep-conf"
}

# Pinned Deno, Supabase CLI and squawk from tools/package-lock.json. Reinstalled when the lockfile
# changed.
ensure_tools() {
  command -v npm >/dev/null 2>&1 || die "npm is required (Node.js 20 or newer)"
  local stamp="$TOOLS_DIR/node_modules/.lock-sha256" want
  want="$(sha256sum "$TOOLS_DIR/package-lock.json" | cut -d' ' -f1)"
  if [ -x "$DENO" ] && [ -x "$SUPABASE" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  say "Installing the pinned Deno, Supabase CLI and squawk (npm ci --prefix tools)"
  npm ci --prefix "$TOOLS_DIR" --no-audit --no-fund --loglevel=error >/dev/null ||
    die "npm ci --prefix tools failed"
  "$DENO" --version >/dev/null || die "tools/node_modules/.bin/deno does not run"
  "$SUPABASE" --version >/dev/null || die "tools/node_modules/.bin/supabase does not run"
  # Optional in npm's sense (one platform): only scripts/test's squawk suite needs it.
  "$SQUAWK" --version >/dev/null 2>&1 || warn "squawk is not installed (linux-x64 only): the squawk suite will fail"
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

# .local/ in the repo (git-ignored) holds the dev clusters (pg<major>/), logs (log/) and the start
# lock. As root, PostgreSQL runs as `postgres`, which may not reach a clone under a root-only folder
# (/root/...): then .local is a link to a folder under /var/lib/postgresql. Sets LOCAL_DIR.
ensure_local_dir() {
  LOCAL_DIR="$ROOT/.local"
  if [ -L "$LOCAL_DIR" ]; then
    mkdir -p "$(readlink "$LOCAL_DIR")"
  elif [ ! -e "$LOCAL_DIR" ] && is_root && ! runuser -u postgres -- test -x "$ROOT"; then
    local target
    target="/var/lib/postgresql/local-stack/$(clone_id)"
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

# A name for this clone in machine-wide folders.
clone_id() { echo "$(basename "$ROOT")-$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)"; }

# The dev stack's folder for PG_MAJOR (its cluster in db/, its server log): .local/pg<major>, one per
# major, so a cluster is never opened by another major. For a major that runs in a root, a link to
# a folder inside the root. Sets STACK_DIR. Needs ensure_local_dir.
ensure_local_stack_dir() {
  STACK_DIR="$LOCAL_DIR/pg$PG_MAJOR"
  # Before there was one folder per major, the (15) cluster was .local/db.
  if [ "$PG_MAJOR" = 15 ] && [ -f "$LOCAL_DIR/db/PG_VERSION" ] && [ ! -e "$STACK_DIR" ]; then
    make_pg_dir "$STACK_DIR"
    mv "$LOCAL_DIR/db" "$STACK_DIR/db"
    say "Moved the PostgreSQL 15 cluster from $LOCAL_DIR/db to $STACK_DIR/db"
  fi
  if [ -n "$PG_SERVER_ROOT" ] && [ ! -L "$STACK_DIR" ]; then
    local target
    target="$PG_SERVER_ROOT/srv/local-stack/$(clone_id)/pg$PG_MAJOR"
    mkdir -p "$(dirname "$target")"
    make_pg_dir "$target"
    ln -sfn "$target" "$STACK_DIR"
  fi
  [ -d "$STACK_DIR" ] || make_pg_dir "$STACK_DIR"
  local found
  found="$(cat "$STACK_DIR/db/PG_VERSION" 2>/dev/null || true)"
  if [ -n "$found" ] && [ "$found" != "$PG_MAJOR" ]; then
    die "$STACK_DIR/db holds a PostgreSQL $found cluster, not $PG_MAJOR; PG_MAJOR=$PG_MAJOR scripts/reset wipes it"
  fi
  STACK_DIR="$(readlink -f "$STACK_DIR")"
}

# A new empty temp folder that the server of PG_MAJOR can reach and write (/tmp, or the root's
# /tmp; not a root-only TMPDIR). Throwaway clusters live in it.
server_tmpdir() { # name prefix
  local base=/tmp dir
  if [ -n "$PG_SERVER_ROOT" ]; then
    base="$PG_SERVER_ROOT/tmp"
  elif ! is_root; then
    base="${TMPDIR:-/tmp}"
  fi
  dir="$(mktemp -d "$base/$1.XXXXXX")"
  make_pg_dir "$dir"
  echo "$dir"
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
  PGPASSWORD=postgres PGOPTIONS="-c client_min_messages=warning" "$CLIENT_BIN/psql" -X -q \
    -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

# An empty folder owned by the cluster's OS user.
make_pg_dir() { # dir
  mkdir -p "$1"
  if is_root; then chown "$(pg_owner)" "$1"; fi
  chmod 700 "$1"
}

# Create a cluster of PG_MAJOR in an empty or missing directory that the cluster's OS user can
# write to. extra_conf: lines appended to postgresql.conf (e.g. durability off for throwaway ones).
init_cluster() { # datadir, extra_conf
  local datadir="$1" extra="${2:-}" pwfile
  # Next to the cluster, where the server's user can read it (also inside a root).
  pwfile="$(mktemp "$(dirname "$datadir")/.pwfile.XXXXXX")"
  echo postgres >"$pwfile"
  if is_root; then chown "$(pg_owner)" "$pwfile"; fi
  if ! pg_server initdb -D "$datadir" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 >"$datadir.initdb.log" 2>&1; then
    rm -f "$pwfile"
    cat "$datadir.initdb.log" >&2
    die "initdb failed for $datadir"
  fi
  rm -f "$pwfile" "$datadir.initdb.log"
  # TCP only (an empty unix_socket_directories avoids socket path length and permission trouble);
  # pg_cron must be preloaded, as on hosted Supabase.
  cat >>"$datadir/postgresql.conf" <<EOF

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
  [ -f "$1/postmaster.pid" ] && pg_server pg_ctl -D "$1" status >/dev/null 2>&1
}

# logfile: a path the server can write (for a major in a root, inside the root).
start_cluster() { # datadir, port, logfile
  local datadir="$1" port="$2" logfile="$3"
  # 9>&- : do not hand the start lock (scripts/start) to the long-lived server.
  if ! pg_server pg_ctl -D "$datadir" -l "$logfile" -o "-p $port" -w -t 60 start >/dev/null 9>&-; then
    tail -n 20 "$logfile" >&2 2>/dev/null || true
    die "PostgreSQL $PG_MAJOR did not start on port $port (log: $logfile)"
  fi
}

stop_cluster() { # datadir
  if cluster_running "$1"; then
    pg_server pg_ctl -D "$1" -m fast -w -t 60 stop >/dev/null || warn "pg_ctl stop failed for $1"
  fi
}

# The server's version() on a port.
server_version() { psql_at "$1" -Atc "select version()"; }

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

# Export the environment hosted Supabase gives a function, pointing at the given ports; the keys
# come from scripts/local.env. Values already in the environment win, so any can be overridden.
export_function_env() { # api_port, db_port
  export SUPABASE_URL="${SUPABASE_URL:-http://127.0.0.1:$1}"
  export SUPABASE_DB_URL="${SUPABASE_DB_URL:-$(db_url "$2")}"
  local name value
  # KEY=VALUE lines, a value optionally in single quotes (the dotenv subset `deno --env-file` reads).
  while IFS='=' read -r name value; do
    [[ "$name" =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
    [ -n "${!name:-}" ] && continue
    value="${value#\'}"
    export "$name=${value%\'}"
  done <"$LOCAL_ENV_FILE"
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

# --- the throwaway stack (scripts/test, bench/run) -----------------------------------------------

# A stack of PG_MAJOR that lives for one run: a cluster in a temp folder (durability off: it is
# thrown away), migrated like the dev stack, the services and the functions server. stack_down
# tears down whatever came up, in reverse order; call it from an EXIT trap.
STACK_WORK=""
STACK_PIDS=()
STACK_CLUSTER_UP=false

# Processes of the stack, stopped in reverse order by stack_down (or scripts/start's stop_all).
stack_track() { STACK_PIDS+=("$1"); }
stop_tracked() {
  local i
  for ((i = ${#STACK_PIDS[@]} - 1; i >= 0; i--)); do stop_process "${STACK_PIDS[$i]}" 15; done
  STACK_PIDS=()
}

# The services the functions call, started before the functions server by every stack (scripts/start,
# scripts/test, bench/run). To add one (a mail catcher, a stand-in server): write
# start_<service> <log dir> that starts it in the background on a port from an env var (scripts/start
# sets the dev defaults; test stacks must get theirs from TEST_*/BENCH_* variables), exports what the
# functions need to reach it, and passes its pid to stack_track; then call it here.
start_services() { # log dir
  start_midtrans_sandbox "$1"
  start_whatsapp_sandbox "$1"
  start_maildev "$1"
}

# The Midtrans sandbox stand-in (scripts/midtrans_sandbox.ts): the Get Status API the webhook
# confirms notifications with, and the control API tests and developers pay with. On
# MIDTRANS_SANDBOX_PORT, notifying the functions at SUPABASE_URL; the functions reach it through
# MIDTRANS_API_URL.
start_midtrans_sandbox() { # log dir
  local port="${MIDTRANS_SANDBOX_PORT:?MIDTRANS_SANDBOX_PORT is not set}" pid deadline=$((SECONDS + 30))
  MIDTRANS_SANDBOX_HOST=127.0.0.1 MIDTRANS_NOTIFICATION_URL="$SUPABASE_URL/functions/v1/midtrans-webhook" \
    "$DENO" run --no-prompt --allow-net --allow-env "$ROOT/scripts/midtrans_sandbox.ts" \
    >>"$1/midtrans_sandbox.log" 2>&1 </dev/null 9>&- &
  pid=$!
  stack_track "$pid"
  export MIDTRANS_API_URL="http://127.0.0.1:$port"
  until [ "$(http_status "$port" /_sandbox/health 2>/dev/null)" = 200 ]; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      tail -n 20 "$1/midtrans_sandbox.log" >&2
      die "the Midtrans sandbox stand-in did not start on port $port"
    fi
    sleep 0.2
  done
}

# The WhatsApp Cloud API stand-in (scripts/whatsapp_sandbox.ts): what send-booking-emails sends
# WhatsApp messages to, calling the whatsapp-webhook function back with signed statuses. On
# WHATSAPP_SANDBOX_PORT; the functions reach it through WHATSAPP_API_URL.
start_whatsapp_sandbox() { # log dir
  local port="${WHATSAPP_SANDBOX_PORT:?WHATSAPP_SANDBOX_PORT is not set}" pid deadline=$((SECONDS + 30))
  WHATSAPP_SANDBOX_HOST=127.0.0.1 WHATSAPP_WEBHOOK_URL="$SUPABASE_URL/functions/v1/whatsapp-webhook" \
    "$DENO" run --no-prompt --allow-net --allow-env "$ROOT/scripts/whatsapp_sandbox.ts" \
    >>"$1/whatsapp_sandbox.log" 2>&1 </dev/null 9>&- &
  pid=$!
  stack_track "$pid"
  export WHATSAPP_API_URL="http://127.0.0.1:$port"
  until [ "$(http_status "$port" /_sandbox/health 2>/dev/null)" = 200 ]; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      tail -n 20 "$1/whatsapp_sandbox.log" >&2
      die "the WhatsApp stand-in did not start on port $port"
    fi
    sleep 0.2
  done
}

# MailDev (pinned in tools/) catches every email the functions send: web UI and REST API on
# MAIL_WEB_PORT, SMTP on MAIL_SMTP_PORT (both required: each stack sets its own), mails kept in
# <log dir>/mail. Beside it, the local stand-in for hosted Supabase's pg_cron + pg_net job
# (migration *_booking_emails_schedule.sql): scripts/email_schedule.ts POSTs to
# send-booking-emails every EMAIL_SCHEDULE_SECONDS (60; 0: none). Exports SMTP_URL (always this
# stack's MailDev), EMAIL_FROM (scripts/local.env) and MAILDEV_URL (for tests and benchmarks).
start_maildev() { # log dir
  local dir="$1" web="${MAIL_WEB_PORT:?}" smtp="${MAIL_SMTP_PORT:?}" deadline pid
  # Left running by a stack that was killed (no trap ran): ours, so stop them first.
  for pid in $(cat "$dir/mail.pids" 2>/dev/null); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE "maildev|$ROOT/scripts/email_schedule.ts"; then
      stop_process "$pid" 10
    fi
  done
  require_free_port "$web" "MailDev's web UI and API" "MAIL_WEB_PORT=<port> (tests: TEST_MAIL_WEB_PORT)"
  require_free_port "$smtp" "MailDev's SMTP server" "MAIL_SMTP_PORT=<port> (tests: TEST_MAIL_SMTP_PORT)"
  mkdir -p "$dir/mail"
  "$TOOLS_DIR/node_modules/.bin/maildev" --ip 127.0.0.1 --smtp "$smtp" --web-ip 127.0.0.1 \
    --web "$web" --mail-directory "$dir/mail" --silent >>"$dir/maildev.log" 2>&1 </dev/null 9>&- &
  pid=$!
  stack_track "$pid"
  echo "$pid" >"$dir/mail.pids"
  deadline=$((SECONDS + 30))
  until [ "$(http_status "$web" /api/healthz 2>/dev/null)" = 200 ]; do
    kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)) ||
      die "MailDev did not start on ports $web/$smtp (log: $dir/maildev.log)"
    sleep 0.3
  done
  export SMTP_URL="smtp://127.0.0.1:$smtp" MAILDEV_URL="http://127.0.0.1:$web"
  if [ "${EMAIL_SCHEDULE_SECONDS:-60}" != 0 ]; then
    "$DENO" run --no-prompt --allow-net --allow-env "$ROOT/scripts/email_schedule.ts" \
      >>"$dir/email_schedule.log" 2>&1 </dev/null 9>&- &
    stack_track "$!"
    echo "$!" >>"$dir/mail.pids"
  fi
}

# STACK_MIGRATIONS=none: bootstrap only, no migrations (the migration rehearsal applies them itself).
stack_up_db() { # name, db port, extra postgresql.conf lines
  local name="$1" port="$2" extra="${3:-}"
  STACK_WORK="$(server_tmpdir "stack-$name")"
  make_pg_dir "$STACK_WORK/db"
  init_cluster "$STACK_WORK/db" "fsync = off
synchronous_commit = off
full_page_writes = off
$extra"
  STACK_CLUSTER_UP=true
  start_cluster "$STACK_WORK/db" "$port" "$STACK_WORK/postgres.log"
  say "PostgreSQL on 127.0.0.1:$port: $(server_version "$port")"
  if [ "${STACK_MIGRATIONS:-}" = none ]; then
    psql_at "$port" -f "$ROOT/scripts/bootstrap.sql" >/dev/null || die "scripts/bootstrap.sql failed"
  else
    prepare_database "$port"
  fi
}

# The functions server (and the services it calls) against the stack's database; sets FUNCTIONS_PID.
stack_up_functions() { # api port, db port
  # The URLs always point at this stack; keys and MIDTRANS_SERVER_KEY may be overridden.
  unset SUPABASE_URL SUPABASE_DB_URL WHATSAPP_API_URL
  export_function_env "$1" "$2"
  start_services "$STACK_WORK"
  start_functions_server "$1" "$STACK_WORK/functions.log"
  stack_track "$FUNCTIONS_PID"
  if ! wait_for_functions_server "$1" "$FUNCTIONS_PID" 120; then
    cat "$STACK_WORK/functions.log" >&2
    die "the functions server did not come up"
  fi
}

stack_down() { # keep: 1 to leave the temp folder
  stop_tracked
  if $STACK_CLUSTER_UP; then
    stop_cluster "$STACK_WORK/db"
    STACK_CLUSTER_UP=false
  fi
  if [ -n "$STACK_WORK" ] && [ -d "$STACK_WORK" ]; then
    if [ "${1:-}" = 1 ]; then say "Kept $STACK_WORK"; else rm -rf "$STACK_WORK"; fi
  fi
  STACK_WORK=""
}

use_pg_major "${PG_MAJOR:-$(config_major)}"
