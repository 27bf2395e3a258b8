#!/usr/bin/env bash
# A throwaway MongoDB-compatible server for the tests: SecantusDB (PyPI,
# MongoDB wire protocol on WiredTiger), installed into .tooling/venv with
# pymongo and pycryptodome (the interop test plays the CYBEX-P API with them),
# cryptography and the repository's v3 producer (producers/python, installed
# editable, so the tests always run this checkout's copy).
#
#   eval "$(scripts/mongo-server.sh start)"   # starts one, prints the exports
#   scripts/mongo-server.sh stop              # stops the one the exports name, removes its data
#   scripts/mongo-server.sh list              # the servers started here, with their state files
#   scripts/mongo-server.sh install           # only installs the venv
#   eval "$(scripts/mongo-server.sh env)"     # installs, prints the exports but the URI
#
# `start` picks a free loopback port and a temporary data dir, waits until the
# server answers, and prints:
#   CYBEXP_TEST_MONGODB_URI   the server, for the MongoDB tests
#   CYBEXP_TEST_MONGO_STATE   this server's state file (pid, port, data dir), for `stop`
#   CYBEXP_TEST_SECANTUSD     the server command, for tests that start their own
#                             (stopping a server mid-run must not hit the others)
#   CYBEXP_TEST_PYTHON        the venv's python, with pymongo, pycryptodome,
#                             cryptography and cybexp_producer
# To test against a real mongod instead, set CYBEXP_TEST_MONGODB_URI yourself.
#
# Every `start` is a server of its own: its state lives in its own data dir,
# so two runs in one checkout (or two checkouts) never touch each other's
# server. `stop` stops only the server CYBEXP_TEST_MONGO_STATE names (or,
# without it, the one of ours whose URI is CYBEXP_TEST_MONGODB_URI), and
# does nothing when neither names one (tests/scripts/mongo-server-twice.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tooling="$root/.tooling"
venv="$tooling/venv"
# Before state was per server, this one file named the only server; `stop`
# still honours it when it names the server the environment's URI points at.
legacy_state="$tooling/mongo-server.env"

# Pinned: the versions the tests were written against. cryptography >= 48 has
# HPKE with MLKEM768_X25519 in its ordinary wheels (its own OpenSSL).
packages=(SecantusDB==0.7.0b3 pymongo==4.20.1 pycryptodome==4.4.0 cryptography==50.0.2)

install() {
    if [ -x "$venv/bin/secantusd-py" ] && "$venv/bin/python" -c '
import pymongo, gridfs, Crypto, cybexp_producer
from importlib.metadata import version
assert version("cryptography") == "50.0.2"' 2>/dev/null; then
        return
    fi
    echo "mongo-server: installing ${packages[*]} and producers/python into $venv" >&2
    mkdir -p "$tooling"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -e "$root/producers/python" >&2
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
    local attempt
    # The port is free when picked but not reserved: should another server
    # take it first, ours dies on bind (or answers someone else's ping), so
    # check it is ours that answers, and try another port.
    for attempt in 1 2 3; do
        if start_one; then
            return 0
        fi
        echo "mongo-server: start attempt $attempt failed" >&2
    done
    exit 1
}

start_one() {
    local port data uri pid state
    # (Called as a condition, so `set -e` is off in here: check each step.)
    port=$(free_port) || return 1
    data=$(mktemp -d "${TMPDIR:-/tmp}/cybexp-mongo.XXXXXX") || return 1
    state="$data/state.env"
    uri="mongodb://127.0.0.1:$port/"
    # setsid: its own process group, so `stop` ends the server and its children.
    setsid "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path "$data/db" \
        --log-level WARNING >"$data/server.log" 2>&1 </dev/null &
    pid=$!
    printf 'PID=%s\nPORT=%s\nDATA=%s\nURI=%s\n' "$pid" "$port" "$data" "$uri" >"$state"
    if ! wait_ready "$uri" 60 || ! kill -0 "$pid" 2>/dev/null; then
        tail -n 20 "$data/server.log" >&2 || true
        stop_state "$state"
        return 1
    fi
    echo "mongo-server: SecantusDB pid $pid on $uri (data in $data)" >&2
    echo "export CYBEXP_TEST_MONGODB_URI='$uri'"
    echo "export CYBEXP_TEST_MONGO_STATE='$state'"
    tools
}

# The exports besides the URI (for a run against a server of one's own).
tools() {
    echo "export CYBEXP_TEST_SECANTUSD='$venv/bin/secantusd-py'"
    echo "export CYBEXP_TEST_PYTHON='$venv/bin/python'"
}

# The state file of the server this environment started, or nothing.
own_state() {
    if [ -n "${CYBEXP_TEST_MONGO_STATE:-}" ]; then
        echo "$CYBEXP_TEST_MONGO_STATE"
        return
    fi
    [ -n "${CYBEXP_TEST_MONGODB_URI:-}" ] || return 0
    local file URI
    for file in "${TMPDIR:-/tmp}"/cybexp-mongo.*/state.env "$legacy_state"; do
        [ -f "$file" ] || continue
        URI=$(sed -n 's/^URI=//p' "$file")
        if [ "$URI" = "$CYBEXP_TEST_MONGODB_URI" ]; then
            echo "$file"
            return
        fi
    done
}

stop() {
    local state
    state=$(own_state)
    if [ -z "$state" ]; then
        echo "mongo-server: no server of this run to stop (CYBEXP_TEST_MONGO_STATE is not set)" >&2
        return 0
    fi
    stop_state "$state"
}

# Stops the server one state file names and removes its data.
stop_state() {
    local state=$1 PID="" DATA=""
    [ -f "$state" ] || return 0
    # shellcheck disable=SC1090
    . "$state"
    # Only a server started on that data dir: a recycled pid is left alone.
    if [ -n "$PID" ] && [ -n "$DATA" ] && ps -o args= -p "$PID" 2>/dev/null | grep -qF -- "$DATA/db"; then
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
    echo "mongo-server: stopped pid ${PID:-?} (${DATA:-?})" >&2
}

# The servers started here whose state is still on disk (a run killed
# before its `stop` leaves its server running: stop it by its state file).
list() {
    local file PID URI
    for file in "${TMPDIR:-/tmp}"/cybexp-mongo.*/state.env; do
        [ -f "$file" ] || continue
        PID=$(sed -n 's/^PID=//p' "$file")
        URI=$(sed -n 's/^URI=//p' "$file")
        if kill -0 "$PID" 2>/dev/null; then
            echo "running  pid $PID  $URI  CYBEXP_TEST_MONGO_STATE=$file"
        else
            echo "gone     pid $PID  $URI  CYBEXP_TEST_MONGO_STATE=$file"
        fi
    done
}

case "${1:-}" in
    install) install ;;
    env)
        install
        tools
        ;;
    start) start ;;
    stop) stop ;;
    list) list ;;
    *)
        echo "usage: $0 start|stop|list|install|env" >&2
        exit 2
        ;;
esac
