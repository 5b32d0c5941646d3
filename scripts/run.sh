#!/usr/bin/env bash
# Set up and serve the portal on the embedded default: http://127.0.0.1:8000/
# Called by `make run` after the virtual environment is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export EVIDENCE_DATA_DIR="${EVIDENCE_DATA_DIR:-var}"
mkdir -p "$EVIDENCE_DATA_DIR"
if [ -z "${SECRET_KEY:-}" ]; then
  # A local install gets its own random key, kept with the rest of its state.
  key_file="$EVIDENCE_DATA_DIR/secret_key"
  [ -s "$key_file" ] || $PY -c "import secrets; print(secrets.token_urlsafe(50))" > "$key_file"
  SECRET_KEY="$(cat "$key_file")"
  export SECRET_KEY
fi
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

$PY manage.py check --deploy --fail-level ERROR >/dev/null
$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput >/dev/null
$PY manage.py bootstrap

# Each server runs in a process group of its own (setsid), so stopping it reaches every process
# it started (pool children, a forked file parser, the beat scheduler) and nothing else.
worker_pid=""
web_pid=""
group_alive() { [ -n "$1" ] && kill -0 -- "-$1" 2>/dev/null; }
stop_group() {  # stop_group PID SIGNAL: SIGNAL now, SIGKILL to what is left after 8 s
  local pid="$1" sig="$2"
  [ -n "$pid" ] || return 0
  kill "-$sig" -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 1 40); do group_alive "$pid" || return 0; sleep 0.2; done
  kill -KILL -- "-$pid" 2>/dev/null || true
}
cleanup() {
  trap - EXIT INT TERM
  # The worker gets SIGQUIT, Celery's cold shutdown: a running task has 3 s to finish
  # (CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT), then its message goes back to the broker and harvest
  # items stay pending for the next worker. Gunicorn gets SIGTERM (finish current requests).
  stop_group "$worker_pid" QUIT &
  stop_group "$web_pid" TERM &
  wait
  rm -f "$worker_pidfile" "$web_pidfile"
}
# A worker or web server left by an earlier run that was killed outright would hold the broker
# (or the port): stop it first.
worker_pidfile="$EVIDENCE_DATA_DIR/worker.pid"
web_pidfile="$EVIDENCE_DATA_DIR/web.pid"
for stale in "$worker_pidfile" "$web_pidfile"; do
  if [ -s "$stale" ]; then
    old="$(cat "$stale")"
    if group_alive "$old"; then
      echo "stopping a server left running by an earlier start (process group $old)" >&2
      stop_group "$old" QUIT
    fi
    rm -f "$stale"
  fi
done
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# REMAP_SIGTERM=SIGQUIT: a plain SIGTERM to the worker (systemd, docker stop) is a cold shutdown too.
REMAP_SIGTERM=SIGQUIT setsid .venv/bin/celery -A evidence_portal worker --beat \
  --schedule "$EVIDENCE_DATA_DIR/celerybeat-schedule" --loglevel INFO --concurrency 1 \
  --logfile "$EVIDENCE_DATA_DIR/worker.log" &
worker_pid=$!
echo "$worker_pid" > "$worker_pidfile"
setsid .venv/bin/gunicorn evidence_portal.wsgi --config python:evidence_portal.gunicorn_conf \
  --bind "$HOST:$PORT" --workers "${WEB_WORKERS:-$(nproc)}" --threads 1 \
  --access-logfile "$EVIDENCE_DATA_DIR/access.log" &
web_pid=$!
echo "$web_pid" > "$web_pidfile"

for _ in $(seq 1 120); do
  if $PY -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://$HOST:$PORT/healthz" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
# Slow work goes to the worker once the page is up: embeddings, and the study-design classifier
# (trained from the stored records when missing, then used to grade not-yet-indexed records).
$PY manage.py enqueue_backfill >/dev/null || echo "warning: could not enqueue the embedding backfill" >&2
$PY manage.py train_design_classifier --if-missing --enqueue >/dev/null \
  || echo "warning: could not enqueue the design classifier training" >&2
echo "Evidence Portal is running at http://$HOST:$PORT/ (Ctrl-C to stop)"
wait -n "$worker_pid" "$web_pid" || true
echo "a server stopped on its own: stopping the other (logs in $EVIDENCE_DATA_DIR)" >&2
exit 1
