#!/usr/bin/env bash
# A throwaway MongoDB-compatible server for the tests: SecantusDB (PyPI,
# MongoDB wire protocol on WiredTiger), installed into .tooling/venv with
# pymongo and pycryptodome (the interop test plays the CYBEX-P API with them).
#
#   eval "$(scripts/mongo-server.sh start)"   # starts it, prints the exports
#   scripts/mongo-server.sh stop              # stops it, removes its data
#   scripts/mongo-server.sh install           # only installs the venv
#   eval "$(scripts/mongo-server.sh env)"     # installs, prints the exports but the URI
#
# `start` picks a free loopback port and a temporary data dir, waits until the
# server answers, and prints:
#   CYBEXP_TEST_MONGODB_URI   the server, for the MongoDB tests
#   CYBEXP_TEST_SECANTUSD     the server command, for tests that start their own
#                             (stopping a server mid-run must not hit the others)
#   CYBEXP_TEST_PYTHON        the venv's python, with pymongo and pycryptodome
# To test against a real mongod instead, set CYBEXP_TEST_MONGODB_URI yourself.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tooling="$root/.tooling"
venv="$tooling/venv"
state="$tooling/mongo-server.env"

# Pinned: the versions the tests were written against.
packages=(SecantusDB==0.7.0b3 pymongo==4.20.1 pycryptodome==4.4.0)

install() {
    if [ -x "$venv/bin/secantusd-py" ] && "$venv/bin/python" -c 'import pymongo, gridfs, Crypto' 2>/dev/null; then
        return
    fi
    echo "mongo-server: installing ${packages[*]} into $venv" >&2
    mkdir -p "$tooling"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}" >&2
}

free_port() {
    "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until a server answers on $1 (a URI), up to $2 seconds.
wait_ready() {
    "$venv/bin/python" - "$1" "$2" <<'PY'
import sys, time
import pymongo
uri, limit = sys.argv[1], float(sys.argv[2])
deadline = time.time() + limit
while True:
    try:
        pymongo.MongoClient(uri, serverSelectionTimeoutMS=500).admin.command("ping")
        sys.exit(0)
    except Exception as e:
        if time.time() > deadline:
            print(f"mongo-server: no answer from {uri} after {limit:.0f}s: {e}", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.2)
PY
}

start() {
    install
    if [ -f "$state" ]; then
        stop
    fi
    local port data uri pid
    port=$(free_port)
    data=$(mktemp -d "${TMPDIR:-/tmp}/cybexp-mongo.XXXXXX")
    uri="mongodb://127.0.0.1:$port/"
    # setsid: its own process group, so `stop` ends the server and its children.
    setsid "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path "$data/db" \
        --log-level WARNING >"$data/server.log" 2>&1 </dev/null &
    pid=$!
    printf 'PID=%s\nPORT=%s\nDATA=%s\nURI=%s\n' "$pid" "$port" "$data" "$uri" >"$state"
    if ! wait_ready "$uri" 60; then
        tail -n 20 "$data/server.log" >&2 || true
        stop
        exit 1
    fi
    echo "mongo-server: SecantusDB pid $pid on $uri (data in $data)" >&2
    echo "export CYBEXP_TEST_MONGODB_URI='$uri'"
    tools
}

# The exports besides the URI (for a run against a server of one's own).
tools() {
    echo "export CYBEXP_TEST_SECANTUSD='$venv/bin/secantusd-py'"
    echo "export CYBEXP_TEST_PYTHON='$venv/bin/python'"
}

stop() {
    [ -f "$state" ] || return 0
    local PID="" DATA=""
    # shellcheck disable=SC1090
    . "$state"
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM -- "-$PID" 2>/dev/null || kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL -- "-$PID" 2>/dev/null || true
    fi
    case "$DATA" in
        */cybexp-mongo.*) rm -rf "$DATA" ;;
    esac
    rm -f "$state"
    echo "mongo-server: stopped" >&2
}

case "${1:-}" in
    install) install ;;
    env)
        install
        tools
        ;;
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop|install|env" >&2
        exit 2
        ;;
esac
