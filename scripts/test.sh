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
cargo test --workspace --locked
