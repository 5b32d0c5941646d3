#!/usr/bin/env bash
# Run a real single-node Elasticsearch (tests/es_node) in the foreground on 127.0.0.1.
# Prints exactly one line on stdout, ELASTICSEARCH_URL=http://127.0.0.1:PORT, once the node
# answers HTTP; its logs go to stderr. Options: --port N (default: a free port), --data DIR
# (default: a fresh temporary folder), --name NAME. ES_NODE_HEAP sets the heap (default 1g).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
node_dir="$root/tests/es_node"
bash "$root/scripts/build_es_node.sh" >&2  # stdout carries only the URL line

heap="${ES_NODE_HEAP:-1g}"
cmd=(java "-Xms${ES_NODE_HEAP_MIN:-256m}" "-Xmx$heap" -XX:+UseSerialGC
  -Dtests.security.manager=false -Dtests.system_call_filter=false
  -Des.set.netty.runtime.available.processors=false
  "-Dlog4j2.configurationFile=$node_dir/target/classes/es-node-log4j2.properties"
  -cp "$node_dir/target/classes:$node_dir/target/lib/*"
  org.evidenceportal.esnode.EsNode "$@")

if [ "$(id -u)" = "0" ]; then
  # Elasticsearch will not run as root ("can not run elasticsearch as root"): drop to nobody.
  user="${ES_NODE_USER:-65534}"
  if ! setpriv --reuid="$user" --regid="$user" --clear-groups test -r "$node_dir/target/classes/es-node-log4j2.properties"; then
    # The checkout is not readable by that user (e.g. under /root): run from a readable copy.
    copy="${TMPDIR:-/tmp}/evidence-es-node-$(id -u "$user" 2>/dev/null || echo "$user")"
    mkdir -p "$copy"
    cp -a "$node_dir/target/classes" "$node_dir/target/lib" "$copy/"
    chmod -R a+rX "$copy"
    cmd=("${cmd[@]//$node_dir\/target/$copy}")
  fi
  args=("$@")
  for i in "${!args[@]}"; do
    if [ "${args[$i]}" = "--data" ] && [ -n "${args[$((i + 1))]:-}" ]; then
      mkdir -p "${args[$((i + 1))]}" && chown -R "$user:$user" "${args[$((i + 1))]}"
    fi
  done
  exec setpriv --reuid="$user" --regid="$user" --clear-groups env HOME=/tmp "${cmd[@]}"
fi
exec "${cmd[@]}"
