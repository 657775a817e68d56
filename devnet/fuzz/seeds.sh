#!/bin/sh
# Regenerates the seed corpus (git-ignored) in devnet/fuzz/corpus/{snapshot,snapshot_header,manifest}/.
set -eu
cd "$(dirname "$0")"
cargo run --release --quiet --bin seeds -- corpus
