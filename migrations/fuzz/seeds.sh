#!/bin/sh
# Regenerates the seed corpus (git-ignored) in migrations/fuzz/corpus/decoders/.
set -eu
cd "$(dirname "$0")"
cargo run --release --quiet --bin seeds -- corpus
