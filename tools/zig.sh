#!/bin/sh
# Run the pinned zig: `zig` on PATH when it is the pinned release, else the
# official build from PyPI (ziglang), installed on first use into .tools/zig.
set -eu
ZIG_VERSION=0.15.2
here=$(cd "$(dirname "$0")/.." && pwd)
if command -v zig >/dev/null 2>&1 && [ "$(zig version)" = "$ZIG_VERSION" ]; then
  exec zig "$@"
fi
if [ -x "$here/.tools/zig/ziglang/zig" ]; then
  exec "$here/.tools/zig/ziglang/zig" "$@"
fi
if python3 -c "import ziglang, sys; import importlib.metadata as m; sys.exit(m.version('ziglang') != '$ZIG_VERSION')" 2>/dev/null; then
  exec python3 -m ziglang "$@"
fi
echo "pwalk: installing zig $ZIG_VERSION from PyPI into .tools/zig" >&2
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$here/.tools/zig" "ziglang==$ZIG_VERSION" >&2
exec "$here/.tools/zig/ziglang/zig" "$@"
