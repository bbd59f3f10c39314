#!/bin/sh
# A sharded scan on this machine, for bench.ts --shards:
#   shards.sh DENO CHECKOUT TREE N OUT
# pwalk plan TREE --shards N, then the plan's shards (N, or fewer when the
# tree has fewer folders to share out: its "shards") as `pwalk report --plan
# --shard I` processes at once into OUT/scan-I.csv.zst. Fails when the plan
# or any shard fails, printing (stderr) only the error of the plan or of
# each shard that failed (each shard's stderr goes to OUT/shard-I.err);
# prints "plan made M of N shards" (stdout) when M < N.
set -e
deno=$1 root=$2 tree=$3 n=$4 out=$5
rm -rf "$out"
mkdir -p "$out"
if ! "$deno" run -A "$root/cli.ts" plan "$tree" --shards "$n" -o "$out/plan.json" \
  2>"$out/plan.err"; then
  echo "shards.sh: pwalk plan --shards $n failed:" >&2
  tail -n 5 "$out/plan.err" >&2
  exit 1
fi
# the distribution's Python (a pyenv shim on PATH adds a shell's start, timed with the shards)
py=python3
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; fi
m=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["shards"])' "$out/plan.json")
i=0 pids=""
while [ "$i" -lt "$m" ]; do
  "$deno" run -A "$root/cli.ts" report --plan "$out/plan.json" --shard "$i" \
    -o "$out/scan-$i.csv.zst" 2>"$out/shard-$i.err" &
  pids="$pids $!" i=$((i + 1))
done
i=0 fail=0
for p in $pids; do
  code=0
  wait "$p" || code=$?
  if [ "$code" -ne 0 ]; then
    echo "shards.sh: shard $i of $m failed (status $code):" >&2
    tail -n 5 "$out/shard-$i.err" >&2
    fail=1
  fi
  i=$((i + 1))
done
if [ "$m" -lt "$n" ]; then echo "plan made $m of $n shards"; fi
exit $fail
