#!/usr/bin/env bash
# `make prod-smoke`: the production shape on this machine, end to end, then torn down.
# PostgreSQL (throwaway cluster), Redis, the Elasticsearch node, two Celery workers on different
# queues, beat, gunicorn behind nginx with a self-signed certificate. It harvests from the local
# E-utilities test server, searches over HTTPS, checks the security headers and the static-file
# cache headers, and stops everything. Prints "prod-smoke: ok" at the end; any failure exits 1
# with the step and the logs' tails. Needs: the venv, Redis, PostgreSQL, nginx, the ES node build.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
PY="$root/.venv/bin/python"
CELERY="$root/.venv/bin/celery"
GUNICORN="$root/.venv/bin/gunicorn"
shared="${EVIDENCE_SHARED_DATA:-$root/../shared/data}"
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

work="$(mktemp -d "${TMPDIR:-/tmp}/evidence-prod-smoke-XXXXXX")"
chmod 755 "$work"
pids=()
step="start"

django_print() { "$PY" -c "import django; django.setup(); $1"; }

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

teardown() {
  local status=$?
  set +e
  if [ $status -ne 0 ]; then
    echo "prod-smoke: FAILED at: $step" >&2
    echo "prod-smoke: FAILED at: $step"
    for log in "$work"/*.log; do
      [ -f "$log" ] || continue
      echo "--- $(basename "$log")" >&2
      tail -15 "$log" >&2
    done
  fi
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null
  bash scripts/pg_cluster.sh stop "$work/pg" >/dev/null 2>&1
  rm -rf "$work"
  exit $status
}
trap teardown EXIT INT TERM

wait_for_line() {  # FILE PATTERN SECONDS
  for _ in $(seq 1 $(($3 * 5))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

step="PostgreSQL"
db_line="$(bash scripts/pg_cluster.sh start "$work/pg")"
export "${db_line?}"

step="Redis"
redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis.log" --dir "$work" >/dev/null
export REDIS_URL="redis://127.0.0.1:$redis_port/0"

step="Elasticsearch node"
bash scripts/es_node.sh --data "$work/es" --name prod-smoke >"$work/es-url.txt" 2>"$work/es.log" &
pids+=($!)

step="E-utilities test server"
"$PY" -m tests.ingest.eutils_server \
  "$shared/pubmed/xml/mattgrayson__pubmed__example-data--efetch.xml.gz" \
  "$shared/pubmed/xml/PathwayCommons__ncbiutils__tests--data--multiple.xml.gz" \
  >"$work/eutils-url.txt" 2>"$work/eutils.log" &
pids+=($!)
wait_for_line "$work/eutils-url.txt" EUTILS_BASE_URL= 60
export "$(cat "$work/eutils-url.txt")"

step="Elasticsearch node (waiting for it)"
wait_for_line "$work/es-url.txt" ELASTICSEARCH_URL= 240
export "$(cat "$work/es-url.txt")"

# The production settings: secrets from files, HTTPS behind nginx, every engine named.
step="settings"
"$PY" -c "import secrets; print(secrets.token_urlsafe(50))" >"$work/secret_key"
export SECRET_KEY_FILE="$work/secret_key" HTTPS=true ALLOWED_HOSTS=localhost DEBUG=false
export SEARCH_BACKEND=elasticsearch EVIDENCE_DATA_DIR="$work/data"
export NCBI_EMAIL=prod-smoke@example.org EUTILS_RETRY_BASE_SECONDS=0.2 EUTILS_RATE_LIMIT=20
export INGEST_HANDOFF_STAGES=grade,index,embed DJANGO_SETTINGS_MODULE=evidence_portal.settings
unset SECRET_KEY CELERY_BROKER_URL ELASTICSEARCH_API_KEY ELASTICSEARCH_INDEX_PREFIX

step="preflight, migrate, collectstatic, check --deploy"
"$PY" manage.py preflight
"$PY" manage.py migrate --noinput >"$work/migrate.log"
"$PY" manage.py collectstatic --noinput >"$work/collectstatic.log"
"$PY" manage.py check --deploy --fail-level WARNING >"$work/check.log" 2>&1
"$PY" manage.py rebuild_index >"$work/rebuild.log" 2>&1

step="workers and beat"
"$CELERY" -A evidence_portal worker --queues harvest,ingest,admin --concurrency 2 --hostname harvest@%h \
  --without-gossip --without-mingle --loglevel INFO >"$work/worker-harvest.log" 2>&1 &
pids+=($!)
"$CELERY" -A evidence_portal worker --queues embed,alerts --concurrency 1 --hostname embed@%h \
  --without-gossip --without-mingle --loglevel INFO >"$work/worker-embed.log" 2>&1 &
pids+=($!)
"$CELERY" -A evidence_portal beat --schedule "$work/beat-schedule" --loglevel INFO >"$work/beat.log" 2>&1 &
pids+=($!)
wait_for_line "$work/worker-harvest.log" " ready." 120
wait_for_line "$work/worker-embed.log" " ready." 120
wait_for_line "$work/beat.log" "beat: Starting" 60

step="gunicorn"
gunicorn_port="$(free_port)"
"$GUNICORN" evidence_portal.wsgi --config python:evidence_portal.gunicorn_conf --bind "127.0.0.1:$gunicorn_port" \
  --workers 2 --threads 1 >"$work/gunicorn.log" 2>&1 &
pids+=($!)

step="nginx with a self-signed certificate"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" \
  -keyout "$work/tls.key" -out "$work/tls.crt" 2>"$work/openssl.log"
http_port="$(free_port)"
https_port="$(free_port)"
sed -e "s|@SERVER_NAME@|localhost|; s|@HTTP_PORT@|127.0.0.1:$http_port|; s|@HTTPS_PORT@|$https_port|g" \
  -e "s|listen $https_port ssl|listen 127.0.0.1:$https_port ssl|" \
  -e "s|@TLS_CERT@|$work/tls.crt|; s|@TLS_KEY@|$work/tls.key|; s|@UPSTREAM@|127.0.0.1:$gunicorn_port|" \
  deploy/nginx.conf >"$work/site.conf"
mkdir -p "$work/nginx-tmp"
chmod 755 "$work/nginx-tmp"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 256; }
http {
    access_log $work/nginx-access.log;
    client_body_temp_path $work/nginx-tmp/body;
    proxy_temp_path $work/nginx-tmp/proxy;
    fastcgi_temp_path $work/nginx-tmp/fastcgi;
    uwsgi_temp_path $work/nginx-tmp/uwsgi;
    scgi_temp_path $work/nginx-tmp/scgi;
    include $work/site.conf;
}
EOF
"$nginx_bin" -t -c "$work/nginx.conf" -p "$work" >"$work/nginx-test.log" 2>&1
"$nginx_bin" -c "$work/nginx.conf" -p "$work"
base="https://localhost:$https_port"
curl_tls=(curl --silent --show-error --cacert "$work/tls.crt" --max-time 120)
# Each gunicorn worker loads the embedding model before it answers (gunicorn_conf.py).
up=false
for _ in $(seq 1 300); do
  if "${curl_tls[@]}" --fail -o /dev/null "$base/healthz" 2>/dev/null; then up=true; break; fi
  sleep 1
done
$up || { echo "gunicorn behind nginx did not answer /healthz" >&2; exit 1; }

step="harvest from the local E-utilities server"
"$PY" manage.py harvest_pubmed --query "all[sb]" --from 1900/01/01 --to 2030/12/31 --datetype edat --wait \
  --timeout 300 >"$work/harvest.log" 2>&1
stored="$(django_print "from records.models import EvidenceRecord; print(EvidenceRecord.objects.count())")"
[ "$stored" -gt 0 ] || { echo "no records stored" >&2; exit 1; }

step="search over HTTPS"
query="$(django_print "from records.models import EvidenceRecord; r = EvidenceRecord.objects.order_by('id').first(); print(max(r.title.split(), key=len).strip('.,:;()[]'))")"
total=0
for _ in $(seq 1 60); do  # the text index is filled by the worker after each stored batch
  total="$("${curl_tls[@]}" --get --data-urlencode "q=$query" "$base/api/v1/search" 2>/dev/null \
    | "$PY" -c "import json,sys; print(json.load(sys.stdin).get('count', 0))" 2>/dev/null || echo 0)"
  [ "$total" -gt 0 ] && break
  sleep 2
done
[ "$total" -gt 0 ] || { echo "search for '$query' found nothing" >&2; exit 1; }

step="security headers"
headers="$("${curl_tls[@]}" -D - -o /dev/null "$base/")"
check_header() {
  grep -qi "^$1" <<<"$headers" || { echo "missing header: $1" >&2; echo "$headers" >&2; exit 1; }
}
check_header "strict-transport-security: max-age=31536000; includeSubDomains"
check_header "x-frame-options: DENY"
check_header "referrer-policy: same-origin"
check_header "x-content-type-options: nosniff"
check_header "content-security-policy: "
redirect="$(curl --silent -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/search?q=x")"
[[ "$redirect" == "301 https://"* ]] || { echo "plain http is not redirected: $redirect" >&2; exit 1; }
login_cookies="$("${curl_tls[@]}" -D - -o /dev/null "$base/accounts/login/" | grep -i '^set-cookie: csrftoken')"
grep -qi "secure" <<<"$login_cookies" && grep -qi "httponly" <<<"$login_cookies" \
  || { echo "CSRF cookie not Secure+HttpOnly: $login_cookies" >&2; exit 1; }

step="static files with long-lived cache headers"
css="$(grep -o '/static/[^"]*\.css' <("${curl_tls[@]}" "$base/") | head -1)"
[ -n "$css" ] || { echo "no stylesheet link on the search page" >&2; exit 1; }
"${curl_tls[@]}" -D - -o /dev/null "$base$css" | grep -qi "^cache-control: max-age=315360000, public, immutable" \
  || { echo "static file $css has no long-lived Cache-Control" >&2; exit 1; }

step="both workers took work from their own queues"
grep -q "ingest.pubmed.fetch_batch.*succeeded" "$work/worker-harvest.log"
wait_for_line "$work/worker-embed.log" "search.embed_pending.*succeeded" 180

echo "prod-smoke: ok ($stored records harvested, '$query' found $total over HTTPS)"
