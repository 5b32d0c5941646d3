#!/usr/bin/env bash
# Install the system packages the test suite needs when they are missing, then return
# (Redis, Chromium, Maven, a JDK, PostgreSQL, nginx).
# Called by `make test` (and so by `.ci/run`) before the suite runs. As root (or with
# password-less sudo) it installs them with apt-get; otherwise it prints the one command to run
# and fails. `--dry-run` prints the packages it would install and installs nothing.
set -euo pipefail

dry_run=false
[ "${1:-}" = "--dry-run" ] && dry_run=true

# command it provides -> Debian package
declare -A package_for=(
  [redis-server]=redis-server
  [chromium]=chromium
  [mvn]=maven
  [javac]=default-jdk-headless
)
missing=()
for cmd in redis-server chromium mvn javac; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${package_for[$cmd]}")
done
# The PostgreSQL pass and the production smoke run (scripts/prod_smoke.sh). Debian keeps the
# server binaries and nginx off a normal user's PATH, so their usual places count too.
pg_bin_glob="${POSTGRES_BIN_GLOB:-/usr/lib/postgresql/*/bin}"
nginx_bin="${NGINX_BIN:-/usr/sbin/nginx}"
have_postgres() {
  command -v initdb >/dev/null 2>&1 && return 0
  for dir in $pg_bin_glob; do [ -x "$dir/initdb" ] && return 0; done
  return 1
}
have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x "$nginx_bin" ]; }
have_postgres || missing+=(postgresql)
have_nginx || missing+=(nginx)
# Playwright's screenshots need a font; without one every glyph is a box.
if [ ! -d /usr/share/fonts/truetype/dejavu ]; then
  missing+=(fonts-dejavu-core)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies: all present"
  exit 0
fi
install_cmd="apt-get update && apt-get install -y ${missing[*]}"
if $dry_run; then
  echo "would install: ${missing[*]}"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo_cmd=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo_cmd=(sudo)
else
  echo "test dependencies missing: run as root: $install_cmd" >&2
  exit 1
fi
echo "test dependencies: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
for cmd in redis-server chromium mvn javac; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "test dependencies: '$cmd' still missing after installing ${missing[*]}" >&2
    exit 1
  fi
done
if ! have_postgres || ! have_nginx; then
  echo "test dependencies: PostgreSQL (initdb) or nginx still missing after installing ${missing[*]}" >&2
  exit 1
fi
echo "test dependencies: installed ${missing[*]}"
