#!/bin/sh
# Run the pinned zig: `zig` on PATH when it is the pinned release, else the
# official build from PyPI (ziglang), installed on first use into .tools/zig
# (and again when the one there is another release, the pin was changed, or
# does not run and answer `zig version` with the pin: damaged, cut short).
set -eu
ZIG_VERSION=0.15.2
here=$(cd "$(dirname "$0")/.." && pwd)
if command -v zig >/dev/null 2>&1 && [ "$(zig version)" = "$ZIG_VERSION" ]; then
  exec zig "$@"
fi
tools=$here/.tools
# pip's record of the release it installed there, and the zig itself saying so
zig_ok() {
  [ -x "$tools/zig/ziglang/zig" ] && [ -d "$tools/zig/ziglang-$ZIG_VERSION.dist-info" ] &&
    [ "$("$tools/zig/ziglang/zig" version 2>/dev/null)" = "$ZIG_VERSION" ]
} 2>/dev/null
if zig_ok; then
  exec "$tools/zig/ziglang/zig" "$@"
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "pwalk: python3 (with pip) is needed to install zig $ZIG_VERSION from PyPI (ziglang), or put zig $ZIG_VERSION on PATH" >&2
  exit 1
fi
if python3 -c "import ziglang, sys; import importlib.metadata as m; sys.exit(m.version('ziglang') != '$ZIG_VERSION')" 2>/dev/null; then
  exec python3 -m ziglang "$@"
fi
echo "pwalk: installing zig $ZIG_VERSION from PyPI into .tools/zig" >&2
# into a private folder, renamed into place whole (one rename: builds run at
# once see either no zig or a whole one); a zig there that is not the pinned
# one whole (another release, damaged) is set aside
work=$tools/zig-fetch-$$
rm -rf "$work"
mkdir -p "$work"
if ! python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  --target "$work/zig" "ziglang==$ZIG_VERSION" >&2; then
  echo "pwalk: pip could not install ziglang==$ZIG_VERSION from PyPI (see above)" >&2
  rm -rf "$work"
  exit 1
fi
if [ -e "$tools/zig" ] && ! zig_ok && ! mv "$tools/zig" "$work/old"; then
  echo "pwalk: could not set the damaged $tools/zig aside (see above): remove it and build again" >&2
  rm -rf "$work"
  exit 1
fi
# (a build run at once may have put its whole zig there first)
mv "$work/zig" "$tools/" 2>/dev/null || true
rm -rf "$work"
if ! zig_ok; then
  echo "pwalk: zig $ZIG_VERSION installed from PyPI does not run from $tools/zig (\`$tools/zig/ziglang/zig version\` does not print $ZIG_VERSION)" >&2
  exit 1
fi
exec "$tools/zig/ziglang/zig" "$@"
