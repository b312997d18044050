#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on localhost for the tests.
#   source scripts/pg_cluster.sh && pg_cluster_start   -> exports TERRITORY_TEST_POSTGRES_URL
#   pg_cluster_stop                                    -> stops it and removes its directory
# Installs Debian's `postgresql` when no server binaries are found (needs root or sudo). When run
# as root, the cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
PG_CLUSTER_DIR=""

_pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

_pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_cluster_start() {
  local bindir port user as
  if ! bindir="$(_pg_bindir)"; then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    bindir="$(_pg_bindir)" || { echo "PostgreSQL: no initdb after installing postgresql" >&2; return 1; }
  fi
  PG_CLUSTER_DIR="$(mktemp -d /tmp/territory-pg.XXXXXX)"
  port="$(_pg_free_port)"
  if [ "$(id -u)" -eq 0 ]; then
    user=postgres
    chown postgres "$PG_CLUSTER_DIR"
    as=(runuser -u postgres --)
  else
    user="$(id -un)"
    as=()
  fi
  "${as[@]}" "$bindir/initdb" -D "$PG_CLUSTER_DIR/data" -U "$user" -A trust --no-sync >/dev/null \
    || { echo "PostgreSQL: initdb failed" >&2; return 1; }
  "${as[@]}" "$bindir/pg_ctl" -D "$PG_CLUSTER_DIR/data" -l "$PG_CLUSTER_DIR/log" -w start \
    -o "-p $port -k $PG_CLUSTER_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null \
    || { cat "$PG_CLUSTER_DIR/log" >&2; echo "PostgreSQL: the cluster did not start" >&2; return 1; }
  "${as[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$user" territory \
    || { echo "PostgreSQL: createdb failed" >&2; return 1; }
  PG_CLUSTER_BINDIR="$bindir"
  PG_CLUSTER_AS=("${as[@]}")
  export TERRITORY_TEST_POSTGRES_URL="postgresql+psycopg://$user@127.0.0.1:$port/territory"
  echo "PostgreSQL test cluster: $TERRITORY_TEST_POSTGRES_URL" >&2
}

pg_cluster_stop() {
  [ -n "$PG_CLUSTER_DIR" ] || return 0
  "${PG_CLUSTER_AS[@]}" "$PG_CLUSTER_BINDIR/pg_ctl" -D "$PG_CLUSTER_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_CLUSTER_DIR"
  PG_CLUSTER_DIR=""
}
