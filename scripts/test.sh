#!/usr/bin/env bash
# Start what the tests need (Redis, the Elasticsearch launcher build) and run the whole suite.
# Called by `make test` after the virtual environment is installed; extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null; then
  echo "redis-server is missing: install Debian's redis-server package (apt-get install redis-server)" >&2
  exit 1
fi
if [ -z "${REDIS_TEST_URL:-}" ]; then
  port=6391
  if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes >/dev/null
    for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  export REDIS_TEST_URL="redis://127.0.0.1:$port/0"
fi

if [ -f tests/es_node/pom.xml ] && [ -z "${ELASTICSEARCH_URL:-}" ]; then
  bash scripts/build_es_node.sh
fi

# Known vulnerabilities of the pinned requirements fail the run unless listed in audit-ignore.txt
# with a reason (docs/security.md); without network access or an OSV database copy it says it did
# not run.
.venv/bin/python scripts/audit_deps.py

# Pass 1: the whole suite on the embedded default (SQLite). Pass 2: every test that touches the
# database layer (models, services, selectors, ingest, search indexing, the API, workers) again
# on a throwaway PostgreSQL cluster. The whole suite twice does not fit CI's hour on two cores;
# what runs where is listed in docs/deployment.md. Extra args go to both passes; a path given
# as an argument (a single test) runs on SQLite only, unless TEST_DATABASE=postgresql.
postgres_pass=(
  tests/records tests/ingest tests/curation tests/guidelines tests/portal
  tests/search/test_services.py tests/search/test_tasks.py tests/search/test_rank_meta_plan.py
  tests/deploy
)
postgres_skip=(--ignore=tests/records/test_classifier_shared_data.py -m "not browser")

pg_dir=""
cleanup() {
  if [ -n "$pg_dir" ]; then
    bash scripts/pg_cluster.sh stop "$pg_dir" >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}
trap cleanup EXIT

start_postgres() {
  pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/evidence-pg-XXXXXX")"
  local line
  line="$(bash scripts/pg_cluster.sh start "$pg_dir")"
  export "${line?}"  # DATABASE_URL=postgres://...
  export POSTGRES_TEST_DIR="$pg_dir"
}

paths_given=false
for arg in "$@"; do
  case "$arg" in tests/*) paths_given=true ;; esac
done

if [ "${TEST_DATABASE:-}" = "postgresql" ]; then
  start_postgres
  .venv/bin/python -m pytest "$@"
  exit
fi

status=0
(unset DATABASE_URL; .venv/bin/python -m pytest --cov --cov-report= "$@") || status=$?
if ! $paths_given; then
  start_postgres
  echo "PostgreSQL pass: ${postgres_pass[*]}"
  .venv/bin/python -m pytest --cov --cov-append --cov-report= "${postgres_skip[@]}" "$@" "${postgres_pass[@]}" \
    || status=$?
fi
.venv/bin/python -m coverage report --skip-covered || true
exit $status
