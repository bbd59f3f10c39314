#!/bin/sh
# A sharded scan on this machine, for bench.ts --shards:
#   shards.sh DENO CHECKOUT TREE N OUT
# pwalk plan TREE --shards N, then N `pwalk report --plan --shard I` processes at once
# into OUT/scan-I.csv.zst; fails when the plan or any shard fails.
set -e
deno=$1 root=$2 tree=$3 n=$4 out=$5
rm -rf "$out"
mkdir -p "$out"
"$deno" run -A "$root/cli.ts" plan "$tree" --shards "$n" -o "$out/plan.json" 2>/dev/null
i=0 pids=""
while [ "$i" -lt "$n" ]; do
  "$deno" run -A "$root/cli.ts" report --plan "$out/plan.json" --shard "$i" -o "$out/scan-$i.csv.zst" &
  pids="$pids $!" i=$((i + 1))
done
fail=0
for p in $pids; do wait "$p" || fail=1; done
exit $fail
