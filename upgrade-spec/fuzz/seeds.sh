#!/usr/bin/env bash
# The seed corpus: the committed declarations and registry files.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/declarations corpus/registry
cp ../../stdlib/migrations.toml corpus/declarations/stdlib.toml
cp ../../devchain/fixtures/framework/migrations.toml corpus/declarations/framework.toml
cp ../../stdlib/registry.toml corpus/registry/stdlib.toml
