#!/bin/sh
# Regenerates the seed corpus (git-ignored) in rehearsal/fuzz/corpus/{aptos_manifest,aptos_chunk,aptos_group,aptos_proof}/.
set -eu
cd "$(dirname "$0")"
cargo run --release --quiet --bin seeds -- corpus
