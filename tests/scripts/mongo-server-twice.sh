#!/usr/bin/env bash
# Two test servers from one checkout live side by side: starting the second
# leaves the first alone, `stop` without a state of its own stops neither,
# and stopping one leaves the other answering. Run by
# tests/tests/mongo_server_script.rs (and by hand: bash tests/scripts/mongo-server-twice.sh).
#
# Exit 0 on success, 77 when the server cannot be installed (no python3,
# venv or pip index: the Rust test skips, or fails under CI=true), 1 on a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
script=scripts/mongo-server.sh

if ! bash "$script" install >&2; then
    echo "mongo-server-twice: cannot install the test server" >&2
    exit 77
fi

fail() {
    echo "mongo-server-twice: FAILED: $*" >&2
    exit 1
}

# The value of one export in a `start` output.
field() {
    sed -n "s/^export $2='\(.*\)'\$/\1/p" <<<"$1"
}

first="" second=""
cleanup() {
    local out
    for out in "$first" "$second"; do
        [ -n "$out" ] || continue
        CYBEXP_TEST_MONGO_STATE=$(field "$out" CYBEXP_TEST_MONGO_STATE) \
            CYBEXP_TEST_MONGODB_URI=$(field "$out" CYBEXP_TEST_MONGODB_URI) bash "$script" stop || true
    done
}
trap cleanup EXIT

# Whether a server answers a ping within a few seconds.
answers() {
    "$python" - "$1" <<'PY'
import sys
import pymongo
try:
    pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=3000).admin.command("ping")
except Exception as e:
    print(f"no answer from {sys.argv[1]}: {e}", file=sys.stderr)
    sys.exit(1)
PY
}

# Neither the caller's server nor its state may leak into ours.
unset CYBEXP_TEST_MONGO_STATE CYBEXP_TEST_MONGODB_URI
first=$(bash "$script" start)
second=$(bash "$script" start)
python=$(field "$first" CYBEXP_TEST_PYTHON)
uri1=$(field "$first" CYBEXP_TEST_MONGODB_URI)
uri2=$(field "$second" CYBEXP_TEST_MONGODB_URI)
state1=$(field "$first" CYBEXP_TEST_MONGO_STATE)
state2=$(field "$second" CYBEXP_TEST_MONGO_STATE)
[ -n "$uri1" ] && [ -n "$uri2" ] || fail "start printed no URI: $first / $second"
[ "$uri1" != "$uri2" ] || fail "both servers on $uri1"
answers "$uri1" || fail "starting the second server stopped the first"
answers "$uri2" || fail "the second server does not answer"
[ -n "$state1" ] && [ -n "$state2" ] || fail "start printed no state: $first / $second"
[ "$state1" != "$state2" ] || fail "both servers share the state $state1"

# A `stop` that names no server of its own stops nothing.
bash "$script" stop
answers "$uri1" && answers "$uri2" || fail "a stop without a state stopped a server"

# Stopping the first by its URI alone (as an older caller would) stops it and only it.
CYBEXP_TEST_MONGODB_URI=$uri1 bash "$script" stop
if answers "$uri1" 2>/dev/null; then
    fail "the first server still answers after its stop"
fi
[ ! -e "$state1" ] || fail "the first server's state $state1 was left behind"
answers "$uri2" || fail "stopping the first server stopped the second"

CYBEXP_TEST_MONGO_STATE=$state2 bash "$script" stop
if answers "$uri2" 2>/dev/null; then
    fail "the second server still answers after its stop"
fi
[ ! -e "$state2" ] || fail "the second server's state $state2 was left behind"
echo "mongo-server-twice: ok" >&2
