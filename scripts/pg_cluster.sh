#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, the smoke run and benchmarks, the way scripts/test.sh
# starts Redis: a temp folder, a free port, an unprivileged user (PostgreSQL refuses root).
#
#   pg_cluster.sh start DIR [PORT]   initdb DIR when new, start it; prints one line on stdout,
#                                    DATABASE_URL=postgres://evidence@127.0.0.1:PORT/evidence
#   pg_cluster.sh stop DIR           fast shutdown (the folder stays; rm it yourself)
#   pg_cluster.sh restart DIR        fast shutdown and start again on the same port
#   pg_cluster.sh bindir -           print the folder of the server tools (pg_dump, pg_restore...)
#
# Durability is switched off (fsync, synchronous_commit): a test cluster trades it for speed.
set -euo pipefail

action="${1:?usage: pg_cluster.sh start|stop|restart DIR [PORT]}"
dir="${2:?usage: pg_cluster.sh start|stop|restart DIR [PORT]}"
port="${3:-}"

bindir=""
if command -v initdb >/dev/null 2>&1; then
  bindir="$(dirname "$(readlink -f "$(command -v initdb)")")"  # Debian: a link into /usr/lib/postgresql/N/bin
else
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do bindir="$candidate"; done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "PostgreSQL server binaries (initdb) are missing: install Debian's postgresql package (apt-get install postgresql)" >&2
  exit 1
fi

as_user=()
if [ "$(id -u)" = "0" ]; then
  # PostgreSQL will not run as root: drop to an unprivileged user.
  user="${PG_CLUSTER_USER:-65534}"
  as_user=(setpriv "--reuid=$user" "--regid=$user" --clear-groups env HOME=/tmp)
fi
run() { "${as_user[@]}" "$@"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [ ${#as_user[@]} -gt 0 ]; then
      chown "$user:$user" "$dir"
      run test -w "$dir" || { echo "pg_cluster.sh: user $user cannot reach $dir (make its parents a+x)" >&2; exit 1; }
    fi
    run "$bindir/initdb" -D "$dir/data" -U evidence --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    [ -n "$port" ] || port="$(free_port)"
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
EOF
    echo "$port" >"$dir/port"
  fi
  port="$(cat "$dir/port")"
  run "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { tail -20 "$dir/server.log" >&2; exit 1; }
  if ! run "$bindir/psql" -h 127.0.0.1 -p "$port" -U evidence -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'evidence'" | grep -q 1; then
    run "$bindir/createdb" -h 127.0.0.1 -p "$port" -U evidence evidence
  fi
  echo "DATABASE_URL=postgres://evidence@127.0.0.1:$port/evidence"
}

stop() {
  [ -f "$dir/data/postmaster.pid" ] || return 0
  run "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
}

case "$action" in
  bindir) echo "$bindir" ;;
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  *) echo "unknown action $action (start, stop or restart)" >&2; exit 2 ;;
esac
