#!/usr/bin/env bash
# CPU of `cybexp-archive run` with and without `top` attached, and of `top`
# itself, from /proc/PID/stat (utime + stime) over SECONDS per case: an idle
# daemon, then a busy one fed a steady stream of cowrie entries.
#
#   tests/scripts/top-cpu.sh [SECONDS]        # default 30
#   BIN=target/release/cybexp-archive tests/scripts/top-cpu.sh 30
#
# Needs tmux (top needs a terminal), bc and python3.
set -euo pipefail
secs=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
bin=${BIN:-$here/../../target/debug/cybexp-archive}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
rate=${RATE:-40}   # entries per second for the busy case
dir=$(mktemp -d)
tmux_server=cybexp-cpu-$$
daemon=
feeder=
cleanup() {
    tmux -L "$tmux_server" kill-server 2>/dev/null || true
    [ -n "$feeder" ] && kill "$feeder" 2>/dev/null || true
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU % of each PID over $secs (100 = one core), printed in order.
measure() {
    local before=() after=() pid
    for pid in "$@"; do before+=("$(ticks "$pid")"); done
    sleep "$secs"
    for pid in "$@"; do after+=("$(ticks "$pid")"); done
    local i
    for i in "${!before[@]}"; do
        echo "scale=2; (${after[$i]} - ${before[$i]}) * 100 / $hz / $secs" | bc
    done
}

"$bin" --data-dir "$dir" keygen --bits 2048 >/dev/null
cat >"$dir/archiver.toml" <<TOML
data_dir = "$dir"
[pipeline]
workers = 2
TOML
arch() { CYBEXP_LOG=warn "$bin" --config "$dir/archiver.toml" "$@"; }

CYBEXP_LOG=warn "$bin" --config "$dir/archiver.toml" run 2>"$dir/daemon.log" &
daemon=$!   # the binary itself, not a subshell
for _ in $(seq 100); do arch status >/dev/null 2>&1 && break; sleep 0.1; done
arch status >/dev/null

start_top() {
    tmux -L "$tmux_server" new-session -d -s top -x 100 -y 30 \
        "exec env CYBEXP_LOG=warn '$bin' --config '$dir/archiver.toml' top"
    sleep 2
    tmux -L "$tmux_server" list-panes -t top -F '#{pane_pid}'
}
stop_top() { tmux -L "$tmux_server" kill-server; sleep 1; }

echo "daemon $bin (pid $daemon), ${secs}s per case, CPU in % of one core"
idle=$(measure "$daemon")
echo "idle daemon, no top:        daemon ${idle}%"
top_pid=$(start_top)
read -r -d '' idle_d idle_t <<<"$(measure "$daemon" "$top_pid")" || true
echo "idle daemon, top attached:  daemon ${idle_d}%  top ${idle_t}%"
stop_top

# The busy case: a feeder submitting $rate entries per second.
mkdir "$dir/feed"
for i in $(seq "$rate"); do
    printf '{"message": "{\\"eventid\\": \\"cowrie.login.failed\\", \\"src_ip\\": \\"203.0.113.%d\\", \\"session\\": \\"%08x\\"}", "log": {"offset": %d}, "@timestamp": "2020-04-28T02:49:23.177Z"}' \
        "$i" "$i" "$i" >"$dir/feed/e$i.json"
done
(
    while true; do
        arch submit --typtag unr-honeypot --orgid org "$dir"/feed/*.json >/dev/null
        sleep 1
    done
) &
feeder=$!
sleep 5
busy=$(measure "$daemon")
echo "busy daemon (~${rate}/s), no top:       daemon ${busy}%"
top_pid=$(start_top)
read -r -d '' busy_d busy_t <<<"$(measure "$daemon" "$top_pid")" || true
echo "busy daemon (~${rate}/s), top attached: daemon ${busy_d}%  top ${busy_t}%"
stop_top
arch status | sed -n '/^outcomes/p;/^workers/p'

# What one snapshot costs the daemon, directly: many requests on one connection.
python3 - "$daemon" "$dir/status.sock" <<'PY'
import os, socket, sys, time
pid, path, n = int(sys.argv[1]), sys.argv[2], 2000
def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
s = socket.socket(socket.AF_UNIX)
s.connect(path)
r = s.makefile("rb")
r.readline()  # hello
t0, w0 = ticks(), time.time()
for _ in range(n):
    s.sendall(b'{"version":1,"request":"snapshot"}\n')
    size = len(r.readline())
t1, w1 = ticks(), time.time()
cpu_ms = (t1 - t0) / os.sysconf("SC_CLK_TCK") * 1000 / n
print(f"one snapshot ({size} B): daemon CPU {cpu_ms:.3f} ms, round trip {(w1 - w0) * 1000 / n:.3f} ms")
PY
