#!/usr/bin/env bash
# Installs the library from BUILD_DIR into a temporary prefix, then builds and
# runs tests/install/ against it as a new user would: find_package and
# target_link_libraries, no other flags. The codec-only build runs with
# RocksDB's package hidden, so it fails if turboquant::codec needs it.
# Usage: install_and_consume.sh BUILD_DIR CMAKE_COMMAND
set -euo pipefail
build=$1
cmake=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tq_install.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$cmake" --install "$build" --prefix "$work/prefix" >/dev/null
for component in index codec; do
  flags=()
  [ "$component" = codec ] && flags=(-DCOMPONENT=codec -DCMAKE_DISABLE_FIND_PACKAGE_RocksDB=TRUE)
  "$cmake" -S "$here" -B "$work/$component" -DCMAKE_PREFIX_PATH="$work/prefix" "${flags[@]}" \
    >"$work/$component.log" 2>&1 || { cat "$work/$component.log"; exit 1; }
  "$cmake" --build "$work/$component" >>"$work/$component.log" 2>&1 ||
    { cat "$work/$component.log"; exit 1; }
done
"$work/index/index_app"
"$work/index/codec_app"
"$work/codec/codec_app"
if ldd "$work/codec/codec_app" | grep -q rocksdb; then
  echo "codec_app links RocksDB"
  exit 1
fi
echo "install_and_consume: both consumers built and ran"
