#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test of
# the workspace (native parsers, the real wasm components under wasmtime,
# the real binary end to end). Run from anywhere inside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml lists the wasm target, but machines with
# RUSTUP_AUTO_INSTALL=0 do not install it by themselves.
rustup target add wasm32-unknown-unknown >/dev/null

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The pure-Rust RSA fallback (for platforms where AWS-LC does not build):
# the same lints, and below the same key tests, without AWS-LC.
cargo clippy -p cybexp-keys --features rust-crypto --all-targets --locked -- -D warnings
cargo clippy -p cybexp-keys --no-default-features --features rust-crypto --all-targets --locked -- -D warnings

# The MongoDB tests need a server: a SecantusDB of our own on a free
# loopback port (scripts/mongo-server.sh, stopped on exit), unless
# CYBEXP_TEST_MONGODB_URI names one already (e.g. a real mongod).
# (An assignment first, so a failing start stops the run under `set -e`.)
if [ -z "${CYBEXP_TEST_MONGODB_URI:-}" ]; then
    trap 'bash scripts/mongo-server.sh stop' EXIT
    mongo_env=$(bash scripts/mongo-server.sh start)
else
    mongo_env=$(bash scripts/mongo-server.sh env)
fi
eval "$mongo_env"

cargo test --workspace --locked
# Both RSA backends side by side (the vectors on each, the differential
# test), then the pure-Rust fallback alone.
cargo test -p cybexp-keys --features rust-crypto --locked
cargo test -p cybexp-keys --no-default-features --features rust-crypto --locked
