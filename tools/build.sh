#!/bin/sh
# Build libpwalk for the host into zig-out/lib: for its OS and architecture
# at the release libraries' floor (glibc 2.27, macOS 11.0) and baseline CPU,
# as build.zig does without -Dtarget, so that it runs on older machines than
# the one that built it.  On first use it fetches the pinned C sources it
# compiles in:
#   zstd 1.5.7's lib/     from npm zstd-napi (npm)
#   libdeflate 1.26       from crates.io libdeflate-sys (cargo), checked by SHA-256
set -eu
ZSTD_NAPI_VERSION=0.0.13
LIBDEFLATE_SYS_VERSION=1.26.1
LIBDEFLATE_SYS_SHA256=d7870e5fbd2766179a937c725fb11f4ca0ef025d982beb61bd3ce755425bd19c
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

zstd_lib=.tools/zstd/node_modules/zstd-napi/deps/zstd/lib
if [ ! -f "$zstd_lib/zstd.h" ]; then
  echo "pwalk: fetching zstd sources (npm zstd-napi@$ZSTD_NAPI_VERSION) into .tools/zstd" >&2
  mkdir -p .tools/zstd
  npm install --silent --prefix .tools/zstd --no-save --ignore-scripts --no-audit --no-fund \
    "zstd-napi@$ZSTD_NAPI_VERSION" >&2
fi

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

deflate_dir=.tools/libdeflate/libdeflate-sys-$LIBDEFLATE_SYS_VERSION/libdeflate
if [ ! -f "$deflate_dir/libdeflate.h" ]; then
  echo "pwalk: fetching libdeflate sources (crates.io libdeflate-sys@$LIBDEFLATE_SYS_VERSION) into .tools/libdeflate" >&2
  cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
  if [ ! -x "$cargo" ]; then
    echo "pwalk: cargo (Rust) is needed to fetch libdeflate's sources from crates.io" >&2
    exit 1
  fi
  # cargo fetch of a one-line manifest downloads the pinned crate (and the
  # crates it would build with, unused) into a private CARGO_HOME.
  work=.tools/libdeflate/fetch-$$
  rm -rf "$work"
  mkdir -p "$work/pkg"
  printf '[package]\nname = "pwalk-sources"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "lib.rs"\n[dependencies]\nlibdeflate-sys = "=%s"\n' \
    "$LIBDEFLATE_SYS_VERSION" >"$work/pkg/Cargo.toml"
  : >"$work/pkg/lib.rs"
  # (rustup's cargo runs rustc by name: its folder goes on PATH with it)
  if ! PATH="$(dirname "$cargo"):$PATH" CARGO_HOME="$here/$work/cargo" \
    "$cargo" fetch --quiet --manifest-path "$work/pkg/Cargo.toml" >&2; then
    echo "pwalk: cargo could not fetch libdeflate-sys@$LIBDEFLATE_SYS_VERSION from crates.io (see above)" >&2
    rm -rf "$work"
    exit 1
  fi
  crate=$(find "$work/cargo/registry/cache" -name "libdeflate-sys-$LIBDEFLATE_SYS_VERSION.crate" | head -n 1)
  sum=$(sha256 "$crate")
  if [ "$sum" != "$LIBDEFLATE_SYS_SHA256" ]; then
    echo "pwalk: libdeflate-sys-$LIBDEFLATE_SYS_VERSION.crate has SHA-256 $sum, expected $LIBDEFLATE_SYS_SHA256" >&2
    rm -rf "$work"
    exit 1
  fi
  mkdir -p "$work/src"
  tar -xzf "$crate" -C "$work/src"
  # one rename: a concurrent build sees either nothing or the whole tree
  mv "$work/src/libdeflate-sys-$LIBDEFLATE_SYS_VERSION" .tools/libdeflate/ 2>/dev/null || true
  rm -rf "$work"
  [ -f "$deflate_dir/libdeflate.h" ]
fi

exec sh tools/zig.sh build -Doptimize="${PWALK_OPTIMIZE:-ReleaseFast}" -Dzstd="$zstd_lib" \
  -Dlibdeflate="$deflate_dir" "$@"
