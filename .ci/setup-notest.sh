#!/usr/bin/env bash
# CI entry point: make a fresh Debian machine able to run the whole test
# suite, start the real servers the tests use, then run the README's test
# command. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
# This script starts every server the tests need: a test that finds one
# missing fails instead of skipping (tests/servers.py).
export CI=true
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Debian packages: PostgreSQL for the metadata tests on a real server,
# shellcheck for the devstack plugin's test, Chromium and its driver for
# the web site's browser tests.
need=()
for pkg in postgresql shellcheck chromium chromium-driver; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q "${need[@]}"
fi

# PostgreSQL: start the cluster and make the test role and database.
cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')
# shellcheck disable=SC2086
$SUDO pg_ctlcluster $cluster start 2>/dev/null || true
for _ in $(seq 30); do
    $SUDO su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1 && break
    sleep 1
done
$SUDO su postgres -c "psql -qAtc \"select 1 from pg_roles where rolname='stacksync'\"" | grep -q 1 ||
    $SUDO su postgres -c "psql -qc \"create role stacksync login superuser password 'stacksync'\""
PG_DB="${STACKSYNC_CI_PG_DB:-stacksync_test}"
$SUDO su postgres -c "psql -qAtc \"select 1 from pg_database where datname='$PG_DB'\"" | grep -q 1 ||
    $SUDO su postgres -c "createdb -O stacksync $PG_DB"
export STACKSYNC_TEST_POSTGRES_URL="postgresql+psycopg2://stacksync:stacksync@127.0.0.1/$PG_DB"

# RabbitMQ for the event tests (installed and started by its own script).
STACKSYNC_TEST_AMQP_URL="$(bash .ci/rabbitmq.sh)"
export STACKSYNC_TEST_AMQP_URL

# Keystone, for the Keystone-mode tests: its own virtualenv (its pins clash
# with ours), built once.
export STACKSYNC_KEYSTONE_VENV="${STACKSYNC_KEYSTONE_VENV:-$HOME/.cache/stacksync-swift/keystone-venv}"
bash .ci/keystone-venv.sh "$STACKSYNC_KEYSTONE_VENV"

# Python: tox builds the test environment from requirements files.
python3 -m pip install -q --upgrade 'tox>=4'

# The browser tests keep screenshots of the main pages here (CI artifacts).
export STACKSYNC_SCREENSHOT_DIR="${STACKSYNC_SCREENSHOT_DIR:-$PWD/doc/screenshots/ci}"
mkdir -p "$STACKSYNC_SCREENSHOT_DIR"

# The README's test command.
python3 -m tox -e pep8,py3 --notest
