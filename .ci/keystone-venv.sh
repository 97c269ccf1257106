#!/usr/bin/env bash
# Build the virtual environment that runs a real Keystone for the
# keystone-marked functional tests (tests/functional/keystone.py).
#
# Keystone's pins (oslo.*, SQLAlchemy, Flask...) may clash with the
# project's, so it lives in a venv of its own, never in the test
# environment. The test process only talks HTTP to it.
#
# Usage: .ci/keystone-venv.sh [VENV_DIR]
#   VENV_DIR defaults to $STACKSYNC_KEYSTONE_VENV, else
#   ~/.cache/stacksync-swift/keystone-venv.
#
# Idempotent: a marker file inside the venv records the pinned packages;
# when it matches, the script exits at once. Exits non-zero on failure
# (e.g. no package index reachable), leaving no marker behind.
set -euo pipefail

KEYSTONE_VERSION="30.0.0"
GUNICORN_VERSION="23.0.0"
PACKAGES=("keystone==${KEYSTONE_VERSION}" "gunicorn==${GUNICORN_VERSION}")
DEFAULT_VENV="${HOME}/.cache/stacksync-swift/keystone-venv"
VENV="${1:-${STACKSYNC_KEYSTONE_VENV:-${DEFAULT_VENV}}}"
PYTHON="${PYTHON:-python3}"
MARKER="${VENV}/.stacksync-keystone"
WANT="${PACKAGES[*]}"

if [ -f "${MARKER}" ] && [ "$(cat "${MARKER}")" = "${WANT}" ] &&
    [ -x "${VENV}/bin/keystone-manage" ]; then
    exit 0
fi

echo "Building the Keystone venv in ${VENV} (${WANT})" >&2
rm -f "${MARKER}"
"${PYTHON}" -m venv "${VENV}"
"${VENV}/bin/python" -m pip install -q --disable-pip-version-check \
    --upgrade pip
"${VENV}/bin/python" -m pip install -q --disable-pip-version-check \
    "${PACKAGES[@]}"
"${VENV}/bin/python" -W ignore -c 'import keystone.server.wsgi, gunicorn'
PYTHONWARNINGS=ignore "${VENV}/bin/keystone-manage" --version >/dev/null 2>&1
printf '%s\n' "${WANT}" >"${MARKER}"
echo "Keystone venv ready: ${VENV}" >&2
