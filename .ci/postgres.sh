#!/usr/bin/env bash
# Start a PostgreSQL server on 127.0.0.1:5432 for the distributed search tests.
#
# Installs Debian's `postgresql` when it is missing, starts the default cluster, and creates the
# role and database the tests use. Safe to run again: every step checks before it acts.
# The tests look for the server at $FER_OPTUNA_POSTGRES_URL, by default the URL printed at the
# end; they skip with a clear reason when nothing answers there.
set -euo pipefail

PG_USER="${FER_PG_USER:-fer}"
PG_PASSWORD="${FER_PG_PASSWORD:-fer}"
PG_DATABASE="${FER_PG_DATABASE:-fer_optuna}"
PG_PORT="${FER_PG_PORT:-5432}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { as_root runuser -u postgres -- "$@"; }

# Callers eval this script's stdout, so only the final `export` line may go there: the server's own
# tools write to stdout too (pg_ctlcluster says "Removed stale pid file." after an unclean stop).
start_server() {
    if ! command -v pg_lsclusters >/dev/null 2>&1; then
        echo "postgres.sh: installing Debian's postgresql" >&2
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
    fi

    # The newest installed server version and its first cluster (Debian creates "main" on install).
    version="$(pg_lsclusters --no-header | awk '{print $1}' | sort -V | tail -n 1)"
    if [ -z "$version" ]; then
        version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
        as_root pg_createcluster "$version" main --port "$PG_PORT" >/dev/null
    fi
    cluster="$(pg_lsclusters --no-header | awk -v v="$version" '$1 == v {print $2; exit}')"

    if ! pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $4}' | grep -q online; then
        echo "postgres.sh: starting cluster $version/$cluster" >&2
        as_root pg_ctlcluster "$version" "$cluster" start
    fi
    port="$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $3}')"

    for _ in $(seq 1 30); do
        as_postgres pg_isready -q -h 127.0.0.1 -p "$port" && break
        sleep 1
    done
    as_postgres pg_isready -h 127.0.0.1 -p "$port" >&2

    # Role and database, created only when absent (password set every time, so a rerun repairs it).
    if [ "$(as_postgres psql -p "$port" -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" != "1" ]; then
        as_postgres psql -p "$port" -qc "CREATE ROLE \"$PG_USER\" LOGIN"
    fi
    as_postgres psql -p "$port" -qc "ALTER ROLE \"$PG_USER\" PASSWORD '$PG_PASSWORD'"
    if [ "$(as_postgres psql -p "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'")" != "1" ]; then
        as_postgres createdb -p "$port" -O "$PG_USER" "$PG_DATABASE"
    fi

    url="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/$PG_DATABASE"
    echo "postgres.sh: server ready at postgresql://$PG_USER:***@127.0.0.1:$port/$PG_DATABASE" >&2
}
start_server >&2

# For `eval "$(.ci/postgres.sh)"` in a CI script; the tests also try this URL by default.
echo "export FER_OPTUNA_POSTGRES_URL=$url"
