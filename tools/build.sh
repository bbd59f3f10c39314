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
deflate_dir=.tools/libdeflate/libdeflate-sys-$LIBDEFLATE_SYS_VERSION/libdeflate

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@" | cut -d' ' -f1
  else shasum -a 256 "$@" | cut -d' ' -f1; fi
}

# Up to date: a build without arguments (zig-out/lib, for the host) leaves
# zig-out/.pwalk-build, made when it started, naming its -Doptimize and the
# SHA-256 of the project's own inputs (native/, build.zig, these scripts:
# their names and contents); when that is the same now and no input (the
# fetched sources too) is newer than the stamp, zig is not run: `deno task
# report` (which builds first) works for a user who cannot write the
# checkout, where zig would write .zig-cache/. Anything else builds:
# arguments, another PWALK_OPTIMIZE, no stamp or library, an input changed
# (by its time, or by its content under an older time: cp -a, tar x, an
# NFS client whose clock is behind), or one find cannot read.
stamp=zig-out/.pwalk-build
own_inputs() {
  find native build.zig tools/build.sh tools/zig.sh -type f | LC_ALL=C sort | while IFS= read -r f; do
    printf '%s %s\n' "$(sha256 "$f")" "$f"
  done | sha256 -
}
config="optimize=${PWALK_OPTIMIZE:-ReleaseFast} inputs=$(own_inputs)"
case "$(uname -s)" in Darwin) lib=zig-out/lib/libpwalk.dylib ;; *) lib=zig-out/lib/libpwalk.so ;; esac
if [ $# -eq 0 ] && [ -f "$lib" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$config" ] &&
  [ -f "$zstd_lib/zstd.h" ] && [ -f "$deflate_dir/libdeflate.h" ]; then
  newer=$(find native build.zig tools/build.sh tools/zig.sh "$zstd_lib" "$deflate_dir" \
    -newer "$stamp" -print 2>/dev/null) || newer=unknown
  [ -n "$newer" ] || exit 0
fi
# a build is needed: where it writes must be writable (else zig's bare AccessDenied)
for d in . .tools .zig-cache zig-out zig-out/lib; do
  if [ -e "$d" ] && [ ! -w "$d" ]; then
    [ "$d" = . ] && d=$here || d=$here/$d
    echo "pwalk: the native library must be built, and you cannot write $d: ask the checkout's owner to run \`deno task build\` in $here" >&2
    exit 1
  fi
done

if [ ! -f "$zstd_lib/zstd.h" ]; then
  echo "pwalk: fetching zstd sources (npm zstd-napi@$ZSTD_NAPI_VERSION) into .tools/zstd" >&2
  mkdir -p .tools/zstd
  npm install --silent --prefix .tools/zstd --no-save --ignore-scripts --no-audit --no-fund \
    "zstd-napi@$ZSTD_NAPI_VERSION" >&2
fi

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

mkdir -p zig-out
rm -f "$stamp"
if [ $# -gt 0 ]; then
  exec sh tools/zig.sh build -Doptimize="${PWALK_OPTIMIZE:-ReleaseFast}" -Dzstd="$zstd_lib" \
    -Dlibdeflate="$deflate_dir" "$@"
fi
# the stamp's time is the build's start: an input changed during the build is newer
printf '%s\n' "$config" >"$stamp.new"
sh tools/zig.sh build -Doptimize="${PWALK_OPTIMIZE:-ReleaseFast}" -Dzstd="$zstd_lib" \
  -Dlibdeflate="$deflate_dir"
mv -f "$stamp.new" "$stamp"
