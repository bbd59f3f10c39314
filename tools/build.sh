#!/bin/sh
# Build libpwalk for the host into zig-out/lib: fetches the pinned zstd
# sources (npm zstd-napi, which carries zstd 1.5.7's lib/) on first use.
set -eu
ZSTD_NAPI_VERSION=0.0.13
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
zstd_lib=.tools/zstd/node_modules/zstd-napi/deps/zstd/lib
if [ ! -f "$zstd_lib/zstd.h" ]; then
  echo "pwalk: fetching zstd sources (npm zstd-napi@$ZSTD_NAPI_VERSION) into .tools/zstd" >&2
  mkdir -p .tools/zstd
  npm install --silent --prefix .tools/zstd --no-save --ignore-scripts --no-audit --no-fund \
    "zstd-napi@$ZSTD_NAPI_VERSION" >&2
fi
exec sh tools/zig.sh build -Doptimize="${PWALK_OPTIMIZE:-ReleaseFast}" -Dzstd="$zstd_lib" "$@"
