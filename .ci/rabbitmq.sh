#!/usr/bin/env bash
# Install (if missing) and start Debian's RabbitMQ for the event tests, then
# print the AMQP URL they use. Idempotent: a running broker is left alone.
# No systemd in CI: the server runs detached and rabbitmqctl waits for it.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! dpkg -s rabbitmq-server >/dev/null 2>&1; then
    $SUDO apt-get update -q >&2
    # The package's post-install script may try to start the service.
    $SUDO apt-get install -y -q rabbitmq-server >&2 || true
    dpkg -s rabbitmq-server >/dev/null 2>&1
fi

if ! $SUDO rabbitmqctl -q status >/dev/null 2>&1; then
    # Run as the package's rabbitmq user, which owns its data folders.
    $SUDO service rabbitmq-server start >&2 2>&1 ||
        $SUDO rabbitmq-server -detached >&2
fi

# await_startup waits for the node once its Erlang VM answers at all.
for _ in $(seq 60); do
    if $SUDO rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1; then
        echo "amqp://guest:guest@127.0.0.1:5672//"
        exit 0
    fi
    sleep 1
done
echo "ERROR: rabbitmq-server did not start" >&2
$SUDO rabbitmqctl status >&2 || true
exit 1
