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

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

.venv/bin/celery -A evidence_portal worker --loglevel INFO --concurrency 1 \
  --logfile "$EVIDENCE_DATA_DIR/worker.log" &
pids+=($!)
# Schedules edited on /ops/sources/ (stored in the database) and the operations job watcher.
.venv/bin/celery -A evidence_portal beat --loglevel INFO --logfile "$EVIDENCE_DATA_DIR/beat.log" &
pids+=($!)
.venv/bin/gunicorn evidence_portal.wsgi --config python:evidence_portal.gunicorn_conf \
  --bind "$HOST:$PORT" --workers "${WEB_WORKERS:-$(nproc)}" --threads 1 \
  --access-logfile "$EVIDENCE_DATA_DIR/access.log" &
pids+=($!)

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
wait -n "${pids[@]}"
