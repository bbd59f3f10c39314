#!/bin/sh
# Build libpwalk for the host into zig-out/lib: for its OS and architecture
# at the release libraries' floor (glibc 2.27, macOS 11.0) and baseline CPU,
# as build.zig does without -Dtarget, so that it runs on older machines than
# the one that built it.  On first use it fetches the pinned C sources it
# compiles in:
#   zstd 1.5.7's lib/     from npm zstd-napi (npm), checked by SHA-256
#   libdeflate 1.26       from crates.io libdeflate-sys (cargo), checked by SHA-256
#                         (the .crate when fetched, its libdeflate/ tree at every build)
# Each is fetched into a private folder and renamed into place whole, so
# that builds run at once see either nothing or the whole tree; a tree that
# is not the pinned one (damaged, another version) is set aside and fetched
# again.  (tests/build_test.ts checks the pins' other copies agree.)
set -eu
ZSTD_NAPI_VERSION=0.0.13
# SHA-256 of the zstd lib/ tree: `tree_sum` below, the sorted list of its
# files' SHA-256 and names
ZSTD_LIB_SHA256=496d7740df69e36c00b4ee143043fd643b078f21e77cf67f1aacec5d69c40dd5
LIBDEFLATE_SYS_VERSION=1.26.1
LIBDEFLATE_SYS_SHA256=d7870e5fbd2766179a937c725fb11f4ca0ef025d982beb61bd3ce755425bd19c
# SHA-256 of its libdeflate/ tree (the sources compiled in): `tree_sum` below
LIBDEFLATE_TREE_SHA256=16eea1ed27f4a58b87de5a362e48cad0dc19d51d197a1d86e62a6564ee233cc8
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

zstd_lib=.tools/zstd/node_modules/zstd-napi/deps/zstd/lib
deflate_dir=.tools/libdeflate/libdeflate-sys-$LIBDEFLATE_SYS_VERSION/libdeflate

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@" | cut -d' ' -f1
  else shasum -a 256 "$@" | cut -d' ' -f1; fi
}
# the SHA-256 of folder $1's files: their "SHA-256 ./name" lines, in byte
# order of the names (nothing for a folder that is not there)
tree_sum() {
  [ -d "$1" ] || return 0
  (cd "$1" && find . -type f | LC_ALL=C sort | if command -v sha256sum >/dev/null 2>&1; then
    xargs sha256sum
  else xargs shasum -a 256; fi) | awk '{ print $1, $2 }' | sha256 -
}
zstd_ok() {
  [ -f "$zstd_lib/zstd.h" ] && [ "$(tree_sum "$zstd_lib")" = "$ZSTD_LIB_SHA256" ]
}
deflate_ok() {
  [ -f "$deflate_dir/libdeflate.h" ] && [ "$(tree_sum "$deflate_dir")" = "$LIBDEFLATE_TREE_SHA256" ]
}
# the source id of native/ (lib/source_id.ts): SHA-256 over its .c and .h
# files in byte order of their names, each as name, NUL, size, NUL, bytes
source_id() {
  (cd native && find . -type f -name '*.[ch]' ! -path './*/*' | LC_ALL=C sort | while IFS= read -r f; do
    printf '%s\0%s\0' "${f#./}" "$(($(wc -c <"$f")))" && cat "$f"
  done) | sha256 -
}

# Up to date: a build without arguments (zig-out/lib, for the host) leaves
# zig-out/.pwalk-build, made when it started, naming its -Doptimize and the
# SHA-256 of the project's own inputs (native/, build.zig, these scripts:
# their names and contents) and, when it ended, the library's SHA-256; when
# that is the same now (a library damaged or rebuilt otherwise, by
# `tools/zig.sh build -Doptimize=Debug`, is not) and no input (the
# fetched sources too) is newer than the stamp, zig is not run: `deno task
# report` (which builds first) works for a user who cannot write the
# checkout, where zig would write .zig-cache/. Anything else builds:
# arguments, another PWALK_OPTIMIZE, no stamp or library, another library, an input changed
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
if [ $# -eq 0 ] && [ -f "$lib" ] && [ -f "$stamp" ] &&
  [ "$(cat "$stamp")" = "$config
library=$(sha256 "$lib")" ] && zstd_ok && deflate_ok; then
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

if ! zstd_ok; then
  echo "pwalk: fetching zstd sources (npm zstd-napi@$ZSTD_NAPI_VERSION) into .tools/zstd" >&2
  if ! command -v npm >/dev/null 2>&1; then
    echo "pwalk: npm (Node.js) is needed to fetch zstd's sources from npm (zstd-napi@$ZSTD_NAPI_VERSION)" >&2
    exit 1
  fi
  work=.tools/zstd-fetch-$$
  rm -rf "$work"
  mkdir -p "$work/zstd"
  if ! npm install --silent --prefix "$work/zstd" --no-save --ignore-scripts --no-audit --no-fund \
    "zstd-napi@$ZSTD_NAPI_VERSION" >&2; then
    echo "pwalk: npm could not fetch zstd-napi@$ZSTD_NAPI_VERSION (see above)" >&2
    rm -rf "$work"
    exit 1
  fi
  sum=$(tree_sum "$work/zstd/node_modules/zstd-napi/deps/zstd/lib")
  if [ "$sum" != "$ZSTD_LIB_SHA256" ]; then
    echo "pwalk: zstd-napi@$ZSTD_NAPI_VERSION's deps/zstd/lib has SHA-256 ${sum:-(none)}, expected $ZSTD_LIB_SHA256" >&2
    rm -rf "$work"
    exit 1
  fi
  # one rename each: a concurrent build sees either nothing or a whole
  # tree; a tree that is not the pinned one is set aside first
  if [ -e .tools/zstd ] && ! zstd_ok; then mv .tools/zstd "$work/old" 2>/dev/null || true; fi
  mv "$work/zstd" .tools/ 2>/dev/null || true
  rm -rf "$work"
  zstd_ok
fi

if ! deflate_ok; then
  echo "pwalk: fetching libdeflate sources (crates.io libdeflate-sys@$LIBDEFLATE_SYS_VERSION) into .tools/libdeflate" >&2
  cargo=$(command -v cargo || echo "${HOME:-}/.cargo/bin/cargo")
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
  sum=$(tree_sum "$work/src/libdeflate-sys-$LIBDEFLATE_SYS_VERSION/libdeflate")
  if [ "$sum" != "$LIBDEFLATE_TREE_SHA256" ]; then
    echo "pwalk: libdeflate-sys-$LIBDEFLATE_SYS_VERSION.crate's libdeflate/ has SHA-256 ${sum:-(none)}, expected $LIBDEFLATE_TREE_SHA256" >&2
    rm -rf "$work"
    exit 1
  fi
  # one rename: a concurrent build sees either nothing or the whole tree; a
  # tree that is not the pinned one is set aside first
  if [ -e ".tools/libdeflate/libdeflate-sys-$LIBDEFLATE_SYS_VERSION" ] && ! deflate_ok; then
    mv ".tools/libdeflate/libdeflate-sys-$LIBDEFLATE_SYS_VERSION" "$work/old" 2>/dev/null || true
  fi
  mv "$work/src/libdeflate-sys-$LIBDEFLATE_SYS_VERSION" .tools/libdeflate/ 2>/dev/null || true
  rm -rf "$work"
  if ! deflate_ok; then
    echo "pwalk: could not put libdeflate-sys@$LIBDEFLATE_SYS_VERSION's sources in place: $here/$deflate_dir is still not the pinned tree" >&2
    exit 1
  fi
fi

# a build that writes zig-out (no --prefix elsewhere) makes its stamp stale
into_zig_out=yes
for a in "$@"; do
  case $a in -p | --prefix | --prefix=*) into_zig_out=no ;; esac
done
mkdir -p zig-out
[ "$into_zig_out" = no ] || rm -f "$stamp"
if [ $# -gt 0 ]; then
  exec sh tools/zig.sh build -Doptimize="${PWALK_OPTIMIZE:-ReleaseFast}" -Dzstd="$zstd_lib" \
    -Dlibdeflate="$deflate_dir" "$@"
fi
# the stamp's time is the build's start (an input changed during the build
# is newer); its names are this process's own (builds run at once)
: >"$stamp.start.$$"
trap 'rm -f "$stamp.start.$$" "$stamp.new.$$"' EXIT
sh tools/zig.sh build -Doptimize="${PWALK_OPTIMIZE:-ReleaseFast}" -Dzstd="$zstd_lib" \
  -Dlibdeflate="$deflate_dir"
# zig said it built: the library must be there and carry native/'s source id
# (zig installs an unchanged library from its cache with the cache's time, so
# the time cannot tell; an empty or broken zig exits 0 having built nothing)
id=$(source_id)
if [ ! -f "$lib" ] || ! grep -qaF "$id" "$lib"; then
  if [ -f "$lib" ]; then what="$here/$lib does not carry native/'s source id $id"; else what="there is no $here/$lib"; fi
  echo "pwalk: zig exited 0 but built no library: $what (check that \`sh tools/zig.sh version\` prints zig's release)" >&2
  exit 1
fi
printf '%s\nlibrary=%s\n' "$config" "$(sha256 "$lib")" >"$stamp.new.$$"
touch -r "$stamp.start.$$" "$stamp.new.$$"
mv -f "$stamp.new.$$" "$stamp"
