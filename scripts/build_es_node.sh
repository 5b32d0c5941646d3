#!/usr/bin/env bash
# Build the Elasticsearch test-node launcher (tests/es_node) with Maven: compile it and copy its
# jars to tests/es_node/target/lib. Uses the local Maven cache (~/.m2) and goes online only for
# jars that are not cached yet. Skips the work when the build is newer than its sources.
set -euo pipefail
cd "$(dirname "$0")/../tests/es_node"

stamp=target/.built
if [ -f "$stamp" ] && [ -z "$(find pom.xml src -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
  echo "build_es_node: Maven and a JDK 17+ are needed (apt-get install maven openjdk-17-jdk-headless)" >&2
  exit 1
fi
goals=(-B -q compile dependency:copy-dependencies -DoutputDirectory=target/lib -DincludeScope=runtime)
if ! mvn -o "${goals[@]}" >/dev/null 2>&1; then
  mvn "${goals[@]}"
fi
# Elasticsearch refuses to run as root; scripts/es_node.sh then runs it as an unprivileged user,
# who must be able to read the build.
chmod -R a+rX target
touch "$stamp"
