#!/usr/bin/env bash
# start: prints `export VAR=...` lines for the services it started; stop: stops them.
# PostgreSQL runs as the postgres user from a throwaway cluster under /tmp on a loopback port.
set -euo pipefail
# One cluster per calling test run ($PPID is run-tests.sh for both start and stop), on a free port, so
# two suites running at once on the same machine never share or delete each other's database.
PGDIR=/tmp/cloudwarden-test-pg.$PPID
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=${CLOUDWARDEN_TEST_PG_PORT:-$(free_port)}
pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
case "${1:-}" in
  start)
    BIN=$(pgbin || true)
    if [ -n "$BIN" ] && [ "$(id -u)" = 0 ]; then
      if [ -f "$PGDIR/data/postmaster.pid" ]; then su postgres -c "$BIN/pg_ctl -D $PGDIR/data -m immediate stop" >/dev/null 2>&1 || true; fi
      rm -rf "$PGDIR"; mkdir -p "$PGDIR"; chown postgres "$PGDIR"
      su postgres -c "$BIN/initdb -D $PGDIR/data -A trust -U postgres" >/dev/null
      su postgres -c "$BIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -o '-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1' -w start" >/dev/null
      su postgres -c "$BIN/psql -h 127.0.0.1 -p $PGPORT -U postgres -c 'CREATE DATABASE cloudwarden_test'" >/dev/null
      echo "export CLOUDWARDEN_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PGPORT/cloudwarden_test"
    else
      echo "echo 'test-services: PostgreSQL not installed or not root; postgres tests will skip' >&2"
    fi
    ;;
  stop)
    BIN=$(pgbin || true)
    if [ -n "$BIN" ] && [ -d "$PGDIR/data" ]; then su postgres -c "$BIN/pg_ctl -D $PGDIR/data -m fast stop" >/dev/null 2>&1 || true; fi
    rm -rf "$PGDIR"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
