#!/usr/bin/env bash
# POST /v1/reports per second against a real `quire serve`, measured with wrk.
#
#   bench/api.sh sqlite|postgres [wrk options]     (default wrk options: -t2 -c32 -d10s)
#
# Sets up a fresh database (a SQLite file in a temporary folder, or a new PostgreSQL
# database on $POSTGRES_URL), seeds one tenant, creates an API key for it, starts
# `quire serve` on a free loopback port under a random Redis prefix, runs wrk with
# bench/wrk/post_reports.lua (a new run per request), prints wrk's report, and tears
# everything down: server, database, Redis keys, files.
#
# No worker runs: every accepted request commits its run row and pushes its job, and
# the queue just fills. Environment: QUIRE (binary, default target/release/quire),
# REDIS_URL (default redis://127.0.0.1:6379), POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432).
set -euo pipefail

database=${1:?usage: bench/api.sh sqlite|postgres [wrk options]}
shift
wrk_options=("$@")
[ ${#wrk_options[@]} -gt 0 ] || wrk_options=(-t2 -c32 -d10s)

here=$(cd "$(dirname "$0")" && pwd)
quire=${QUIRE:-$here/../target/release/quire}
postgres_url=${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}

scratch=$(mktemp -d)
suffix=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
export QUIRE_PREFIX="quire-api-bench-$suffix"
export QUIRE_STORAGE_DIR="$scratch/files"
export QUIRE_LOG=${QUIRE_LOG:-warn}
pg_database=""
case "$database" in
  sqlite) export DATABASE_URL="sqlite://$scratch/quire.db" ;;
  postgres)
    pg_database="quire_api_bench_$suffix"
    psql "$postgres_url/postgres" -qc "CREATE DATABASE $pg_database"
    export DATABASE_URL="$postgres_url/$pg_database"
    ;;
  *) echo "unknown database $database (sqlite or postgres)" >&2; exit 2 ;;
esac

server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ -n "$pg_database" ]; then
    psql "$postgres_url/postgres" -qc "DROP DATABASE IF EXISTS $pg_database WITH (FORCE)"
  fi
  # Every key of the prefix starts with its hash tag: {prefix}:...
  redis-cli -u "$REDIS_URL" --scan --pattern "{$QUIRE_PREFIX}*" \
    | xargs -r -n 1000 redis-cli -u "$REDIS_URL" unlink >/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT

"$quire" migrate
tenant=$("$quire" seed --tenants 1 --invoices 50 | head -n 1)
key=$("$quire" keys create --tenant "$tenant" 2>/dev/null)

# A free port: bind to port 0 and read which one the kernel gave.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export QUIRE_BIND="127.0.0.1:$port"
"$quire" serve &
server=$!
for _ in $(seq 100); do
  curl -fs "http://$QUIRE_BIND/healthz" >/dev/null && break
  sleep 0.1
done
curl -fs "http://$QUIRE_BIND/healthz" >/dev/null

echo "quire serve on $database, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk ${wrk_options[*]} -s bench/wrk/post_reports.lua POST /v1/reports (no worker running)"
QUIRE_TENANT="$tenant" wrk "${wrk_options[@]}" -s "$here/wrk/post_reports.lua" \
  -H "Authorization: Bearer $key" "http://$QUIRE_BIND/v1/reports"
