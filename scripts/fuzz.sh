#!/usr/bin/env bash
# Fuzzing (docs/developing/fuzzing.md): scripts/fuzz.sh [TARGET|all] [SECONDS]
#
# Builds the cargo-fuzz project in fuzz/ (its own workspace), seeds each
# target's corpus, runs the target(s) for SECONDS each (default 60) and
# prints execs and coverage per target. New corpus entries stay in
# fuzz/corpus/TARGET, crashes in fuzz/artifacts/TARGET (both ignored by
# git). Exits non-zero if any target crashed, leaked, ran out of memory or
# timed out.
#
# Environment:
#   FUZZ_JOBS=N          run N targets at a time (default 1; the runs share the cores)
#   FUZZ_SANITIZER=S     cargo-fuzz --sanitizer (default none: see docs/developing/fuzzing.md)
#   FUZZ_MAX_LEN=N       libFuzzer -max_len (default 65536)
#   FUZZ_ARGS="..."      more libFuzzer flags, e.g. "-runs=10000000"
#   CYBEXP_SHARED=DIR    the shared vectors (default ../shared)
# The `config` target links the archiver crate (wasmtime, the MongoDB
# driver): `all` runs it only when FUZZ_CONFIG=1 (a longer build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
shared=${CYBEXP_SHARED:-$root/../shared}
export CYBEXP_SHARED=$shared

all_targets=(tahoe_json json cowrie url_list email envelope envelope_v3 status_protocol)
target=${1:-all}
seconds=${2:-60}
sanitizer=${FUZZ_SANITIZER:-none}
jobs=${FUZZ_JOBS:-1}
max_len=${FUZZ_MAX_LEN:-65536}

if [[ $target == all ]]; then
    targets=("${all_targets[@]}")
    [[ ${FUZZ_CONFIG:-0} == 1 ]] && targets+=(config)
elif [[ " ${all_targets[*]} config " == *" $target "* ]]; then
    targets=("$target")
else
    echo "fuzz: unknown target $target (one of: ${all_targets[*]} config, or all)" >&2
    exit 2
fi

# cargo-fuzz itself, once per machine.
if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi
# The toolchain is stable only. `--sanitizer none` needs no unstable flag;
# a sanitizer is `-Zsanitizer=...`, which stable accepts only under
# RUSTC_BOOTSTRAP. Set either way, so switching does not rebuild everything.
export RUSTC_BOOTSTRAP=1
# A sanitizer build of aws-lc-sys is its CMake build.
if [[ $sanitizer != none ]] && ! command -v cmake >/dev/null; then
    if [[ $(id -u) == 0 ]]; then
        apt-get update -qq && apt-get install -y -qq cmake >/dev/null
    else
        echo "fuzz: FUZZ_SANITIZER=$sanitizer needs cmake (aws-lc-sys builds with it under a sanitizer)" >&2
        exit 2
    fi
fi

# cargo-fuzz's default build: optimised, with debug assertions and overflow checks.
fuzz_args=(--sanitizer "$sanitizer")
features=() bin_dir=fuzz/target/x86_64-unknown-linux-gnu/release
if [[ " ${targets[*]} " == *" config "* ]]; then
    # Its own target dir: the archiver's dependencies change feature
    # unification, which would rebuild the other targets' crates each switch.
    # 16 codegen units: this build is wasmtime, Cranelift and the MongoDB driver
    # (over 30 min instrumented on 2 busy cores, and still not done, on 2026-12-01).
    features=(--features config --target-dir target/config --codegen-units 16)
    bin_dir=fuzz/target/config/x86_64-unknown-linux-gnu/release
fi

echo "fuzz: building ${targets[*]} (sanitizer $sanitizer)"
build_started=$SECONDS
one=()
((${#targets[@]} == 1)) && one=("${targets[0]}")
(cd fuzz && cargo fuzz build "${fuzz_args[@]}" "${features[@]}" "${one[@]}")
for t in "${targets[@]}"; do
    [[ -x $bin_dir/$t ]] || { echo "fuzz: $t did not build" >&2; exit 1; }
done
echo "fuzz: built in $((SECONDS - build_started)) s"

# Seeds: small committed ones (fuzz/seeds/TARGET) plus the repository's own
# samples and the shared vectors, copied in at run time. A target whose
# first input byte is a selector gets a prefix byte on each seed.
seed() { # seed TARGET PREFIX(hex, may be empty) FILE...
    local t=$1 prefix=$2; shift 2
    local dir=fuzz/corpus/$t f out
    for f in "$@"; do
        [[ -f $f ]] || continue
        out=$dir/seed-$(basename "$f")${prefix:+-$prefix}
        [[ -e $out ]] && continue
        { [[ -n $prefix ]] && printf "\\x$prefix"; cat "$f"; } >"$out"
    done
}
seed_corpus() {
    local t=$1 tmp
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    # Committed seeds, and every saved crash (fuzz/regressions): libFuzzer
    # runs the whole corpus first, so a regression fails the run at once.
    for d in seeds regressions; do
        [[ -d fuzz/$d/$t ]] && cp -n fuzz/"$d"/"$t"/* "fuzz/corpus/$t/" 2>/dev/null || true
    done
    tmp=$(mktemp -d)
    # Split the shared JSON vectors into one file per input (python3 is on every CI machine).
    if command -v python3 >/dev/null; then
        python3 - "$shared" "$tmp" <<'PY' || echo "fuzz: could not split the shared vectors" >&2
import base64, json, os, sys
shared, out = sys.argv[1], sys.argv[2]
def put(sub, name, data):
    os.makedirs(os.path.join(out, sub), exist_ok=True)
    with open(os.path.join(out, sub, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
def load(path):
    try:
        with open(os.path.join(shared, path), "rb") as f:
            return f.read()
    except OSError:
        return None
raw = load("vectors/tahoe_hash.json")
if raw:
    cases = json.loads(raw)
    cases = cases.get("cases", cases) if isinstance(cases, dict) else cases
    for i, c in enumerate(cases if isinstance(cases, list) else []):
        text = c.get("data_json") if isinstance(c, dict) else None
        if isinstance(text, str) and len(text) < 65536:
            put("json", "tahoe_hash-%03d" % i, text)
raw = load("vectors/raw_documents.json")
if raw:
    cases = json.loads(raw)
    cases = cases.get("cases", cases) if isinstance(cases, dict) else cases
    for i, c in enumerate(cases if isinstance(cases, list) else []):
        text = c.get("plaintext") if isinstance(c, dict) else None
        if isinstance(text, str) and len(text) < 65536:
            put("json", "raw_documents-%03d" % i, text)
raw = load("samples/cowrie_raw_documents.jsonl")
for i, line in enumerate((raw or b"").splitlines()):
    try:
        data = json.loads(line).get("data")
    except ValueError:
        continue
    if isinstance(data, dict):
        put("cowrie", "production-%02d" % i, json.dumps(data))
        if isinstance(data.get("message"), str):
            put("cowrie", "production-%02d-message" % i, data["message"])
for path in ("vectors/envelope_rsa2048/cases.json",):
    raw = load(path)
    for c in (json.loads(raw)["cases"] if raw else []):
        blob = base64.b64decode(c["blob_b64"])
        if len(blob) <= 65536:
            put("envelope", "v1-" + c["name"], blob)
try:
    with open("keys/tests/fixtures/v3_cases.json", "rb") as f:
        v3 = json.loads(f.read())["cases"]
except OSError:
    v3 = []
for c in v3:
    blob = base64.b64decode(c["blob_b64"])
    if len(blob) <= 65536:
        put("envelope_v3", "v3-" + c["name"], blob)
PY
    fi
    case $t in
        tahoe_json)
            seed "$t" 00 "$tmp"/json/* guest-parsers/*/tests/samples/*.json
            seed "$t" 03 "$tmp"/json/* ;;
        json)
            seed "$t" "" "$tmp"/json/* guest-parsers/*/tests/samples/* "$shared"/samples/* ;;
        cowrie)
            seed "$t" "" guest-parsers/cowrie/tests/samples/* "$tmp"/cowrie/* ;;
        url_list)
            seed "$t" "" guest-parsers/url-list/tests/samples/* "$shared"/samples/openphish_feed.txt ;;
        email)
            seed "$t" "" guest-parsers/email/tests/samples/* ;;
        envelope)
            seed "$t" 00 "$tmp"/envelope/*
            # Odd first bytes pick a valid blob to edit: one seed per blob.
            for i in 1 3 5 7 9 11 13 15; do printf "\\x$(printf %02x $i)" >"fuzz/corpus/$t/seed-base-$i"; done ;;
        envelope_v3)
            # Raw blobs (0), bodies after a header naming the key (2), and
            # edits of each valid blob (odd: 1, 3, .. 9).
            seed "$t" 00 "$tmp"/envelope_v3/*
            seed "$t" 02 "$tmp"/envelope_v3/*
            for i in 1 3 5 7 9; do printf "\\x$(printf %02x $i)" >"fuzz/corpus/$t/seed-base-$i"; done ;;
        status_protocol) ;;
        config)
            seed "$t" 00 dist/archiver.toml ;;
    esac
    rm -rf "$tmp"
}

run_one() { # run_one TARGET -> fuzz/artifacts/TARGET/run.log, one summary line
    local t=$1 log dict=()
    log=fuzz/artifacts/$t/run.log
    [[ -f fuzz/dict/$t.dict ]] && dict=(-dict="dict/$t.dict")
    [[ $t == tahoe_json || $t == json ]] && dict=(-dict=dict/json.dict)
    local rc=0
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    (cd fuzz && cargo fuzz run "${fuzz_args[@]}" "${features[@]}" "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" "${dict[@]}" ${FUZZ_ARGS:-}) >"$log" 2>&1 || rc=$?
    local execs cov ft corp
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    local verdict=ok
    if ((rc != 0)); then
        verdict="FAILED (exit $rc): $(grep -m1 -o 'Test unit written to .*' "$log" || grep -m1 'ERROR' "$log" || echo "see $log")"
    fi
    echo "$rc" >"fuzz/artifacts/$t/rc"
    printf 'fuzz: %-16s %8s s  execs %-10s cov %-6s ft %-6s corpus %-6s %s\n' \
        "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict"
    return "$rc"
}

for t in "${targets[@]}"; do seed_corpus "$t"; done
echo "fuzz: running ${targets[*]} for $seconds s each, $jobs at a time (logs: fuzz/artifacts/TARGET/run.log)"
for t in "${targets[@]}"; do
    rm -f "fuzz/artifacts/$t/rc"
    run_one "$t" &
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
done
wait || true
failed=0
for t in "${targets[@]}"; do
    if [[ $(cat "fuzz/artifacts/$t/rc" 2>/dev/null) != 0 ]]; then
        failed=1
        echo "fuzz: $t FAILED; log fuzz/artifacts/$t/run.log; reproduce: cd fuzz && cargo fuzz run --sanitizer $sanitizer $t artifacts/$t/CRASH-FILE" >&2
    fi
done
exit "$failed"
