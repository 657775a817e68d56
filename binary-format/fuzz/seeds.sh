#!/bin/sh
# Regenerates the seed corpus (git-ignored) in binary-format/fuzz/corpus/{read_module,detect,bcs}/.
set -eu
cd "$(dirname "$0")"
cargo run --release --quiet --bin seeds -- corpus
