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

exec .venv/bin/python -m pytest --cov --cov-report=term:skip-covered "$@"
