#!/usr/bin/env bash
# Install what the test suite needs to start its own real servers (idempotent, quiet on success):
#   - PostgreSQL server binaries (initdb, pg_ctl) from Debian's `postgresql` package;
#   - the sekmet-fhir R4 server, pinned, in its own virtual environment .venv-fhir;
#   - Debian's `chromium` (/usr/bin/chromium) for the browser tests (Playwright drives it through
#     executable_path; `playwright install` is never run: no browser is downloaded from anywhere else);
#   - a Java runtime (17+) for the Spark replay engine's tests, from Debian's openjdk-17-jre-headless.
# Called by `make test` before pytest. Safe to run again: it does nothing when all is in place.
set -euo pipefail

SEKMET_VERSION="0.1.1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FHIR_VENV="${CDS_FHIR_VENV:-$ROOT/.venv-fhir}"
LOG="$(mktemp -t install-test-deps.XXXXXX.log)"
trap 'rm -f "$LOG"' EXIT

fail() {
  echo "install-test-deps: $*" >&2
  if [[ -s "$LOG" ]]; then
    echo "---- last output ----" >&2
    tail -n 40 "$LOG" >&2
  fi
  exit 1
}

# apt waits for another apt (several checkouts may run this at once) instead of failing on its lock
APT_GET=(apt-get -o DPkg::Lock::Timeout=600)
APT_UPDATED=""
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z "$APT_UPDATED" ]]; then
    echo "install-test-deps: apt-get update" >&2
    "${APT_GET[@]}" update >>"$LOG" 2>&1 || fail "apt-get update failed"
    APT_UPDATED=1
  fi
  echo "install-test-deps: apt-get install $* (once; a few minutes)" >&2
  "${APT_GET[@]}" install -y --no-install-recommends "$@" >>"$LOG" 2>&1 || fail "apt-get install $* failed"
}

have_pg_binaries() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && return 0
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

# 1. PostgreSQL server binaries (only if no external database was given).
if [[ -z "${CDS_TEST_DATABASE_URL:-}" ]] && ! have_pg_binaries; then
  if [[ "$(id -u)" -eq 0 ]]; then
    apt_install postgresql
    have_pg_binaries || fail "postgresql installed but initdb/pg_ctl not found in /usr/lib/postgresql/*/bin"
  else
    fail "PostgreSQL server binaries (initdb, pg_ctl) are missing and this is not root.
  Fix: sudo apt-get install -y --no-install-recommends postgresql
  or point the tests at an existing database: export CDS_TEST_DATABASE_URL=postgresql+psycopg://user@host:port/db"
  fi
fi

# 2. The FHIR server, pinned, in its own venv (it pins its own fastapi/pydantic/fhir.resources).
installed_version() {
  "$FHIR_VENV/bin/python" - <<'PY' 2>/dev/null
from importlib.metadata import version
print(version("sekmet-fhir"))
PY
}
UV="$ROOT/.venv-tools/bin/uv"  # the Makefile's installer, when present: a venv and an install in seconds
if [[ ! -x "$FHIR_VENV/bin/sekmet" || "$(installed_version || true)" != "$SEKMET_VERSION" ]] && [[ -x "$UV" ]]; then
  echo "install-test-deps: installing the test FHIR server sekmet-fhir==$SEKMET_VERSION into $FHIR_VENV (uv)" >&2
  { [[ -x "$FHIR_VENV/bin/python" ]] || "$UV" venv --quiet --python python3 "$FHIR_VENV"; } >>"$LOG" 2>&1 \
    || fail "uv venv $FHIR_VENV failed"
  "$UV" pip install --quiet --python "$FHIR_VENV/bin/python" "sekmet-fhir==$SEKMET_VERSION" >>"$LOG" 2>&1 \
    || fail "uv pip install sekmet-fhir==$SEKMET_VERSION into $FHIR_VENV failed"
fi
if [[ ! -x "$FHIR_VENV/bin/sekmet" || "$(installed_version || true)" != "$SEKMET_VERSION" ]]; then
  if [[ ! -x "$FHIR_VENV/bin/pip" ]]; then
    rm -rf "$FHIR_VENV"
    if ! python3 -m venv "$FHIR_VENV" >>"$LOG" 2>&1; then
      # Debian's own python3 needs python3-venv for ensurepip
      if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        rm -rf "$FHIR_VENV"
        apt_install python3-venv
        python3 -m venv "$FHIR_VENV" >>"$LOG" 2>&1 || fail "python3 -m venv $FHIR_VENV failed"
      else
        fail "python3 -m venv $FHIR_VENV failed. Fix: sudo apt-get install -y python3-venv"
      fi
    fi
  fi
  echo "install-test-deps: installing the test FHIR server sekmet-fhir==$SEKMET_VERSION into $FHIR_VENV" >&2
  "$FHIR_VENV/bin/pip" install --quiet --disable-pip-version-check "sekmet-fhir==$SEKMET_VERSION" >>"$LOG" 2>&1 \
    || fail "pip install sekmet-fhir==$SEKMET_VERSION into $FHIR_VENV failed"
  [[ -x "$FHIR_VENV/bin/sekmet" ]] || fail "$FHIR_VENV/bin/sekmet missing after install"
fi

# 3. Chromium for the browser tests (Playwright for Python drives it: executable_path=/usr/bin/chromium).
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt_install chromium
    [[ -x /usr/bin/chromium ]] || fail "chromium installed but /usr/bin/chromium is missing"
  else
    fail "/usr/bin/chromium is missing and this is not root. Fix: sudo apt-get install -y chromium"
  fi
fi

# 4. Java for pyspark (the replay's Spark engine runs in local mode in the suite).
java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local v
  v="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
  [[ -n "$v" && "$v" -ge 17 ]]
}
if ! java_ok; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt_install openjdk-17-jre-headless
    java_ok || fail "openjdk-17-jre-headless installed but java (17+) not on PATH"
  else
    fail "Java 17+ (for pyspark) is missing and this is not root.
  Fix: sudo apt-get install -y --no-install-recommends openjdk-17-jre-headless"
  fi
fi
