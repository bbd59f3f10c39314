#!/bin/bash
# System calls per changed entry of repair, chown and undo (README's table of
# "the work per changed entry"): each run under strace -f on two trees of
# 1,000 and 5,000 files in 20 folders that all change (a setgid project
# folder of group 5000, files of 1042:1042 mode 0600), full traces counted
# (strace -c hides getxattrat on Debian 12's strace 6.1), the difference
# divided by 4,000; then the calls per entry by name for each run. Repair
# and chown run at --threads 2: under strace every call is slow, so the
# default governor starts more readers for the larger tree (69 threads
# against 20), and each start's own calls (its signal mask, its group-name
# lookups) would count as calls per entry. Trees are made once for the runs
# that leave them as they were: the dry runs, then repair --apply, then undo
# of that run's own journal, share a tree; chown --apply gets a new one.
# PWALK_SYSCALLS_FILES="SMALL LARGE" sets the two trees' sizes (multiples of
# 20; the difference divided by LARGE - SMALL): tests/bench_test.ts takes
# "200 1000", quicker than the default "1000 5000" of README's figures.
# Needs root (chown), strace and python3. usage: bash bench/change_syscalls.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
read -r small large <<<"${PWALK_SYSCALLS_FILES:-1000 5000}"
work=$(mktemp -d "${TMPDIR:-/tmp}/pwalk-syscalls-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$repo"
mk() { # ROOT N
  rm -rf "$1" && mkdir -p "$1" && chown 0:5000 "$1" && chmod 2770 "$1"
  python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for d in range(20):
    p = f"{root}/d{d}"; os.mkdir(p); os.chown(p, 1042, 5000); os.chmod(p, 0o2770)
    for i in range(n // 20):
        f = f"{p}/f{i}"; open(f, "w").close(); os.chown(f, 1042, 1042); os.chmod(f, 0o600)
PY
}
calls() { # LOG: one line per call (no resumed halves, no signals, no exits)
  grep -v -E 'resumed>|^[0-9]+ +(\+\+\+|---)' "$1" | sed -E 's/^[0-9]+ +//; s/\(.*//'
}
trace() { # LABEL N ARGS... (ROOT and JOURNAL replaced by the tree and journal of N)
  local label=$1 n=$2; shift 2
  local args=("${@//ROOT/$work/t$n}")
  args=("${args[@]//JOURNAL/$work/j$n}")
  strace -f -o "$work/$label-$n.log" deno run -A cli.ts "${args[@]}" >/dev/null 2>&1 || true
  calls "$work/$label-$n.log" | sort | uniq -c | awk '{print $2, $1}' | sort >"$work/$label-$n.by"
}
row() { # LABEL: calls per entry, by name
  join -a1 -a2 -e0 -o 0,1.2,2.2 "$work/$1-$small.by" "$work/$1-$large.by" |
    awk -v l="$1" -v e=$((large - small)) '{d = ($3 - $2) / e; t += d; if (d > 0.05) s = s sprintf(" %s %.2f", $1, d)}
      END {printf "%-13s %6.2f per entry:%s\n", l, t, s}'
}
for n in "$small" "$large"; do
  mk "$work/t$n" "$n"
  rm -f "$work/j$n"
  trace repair-dry "$n" repair --threads 2 ROOT
  trace chown-dry "$n" chown --threads 2 --chown_from 1042 --chown_to 1043:5000 ROOT
  trace repair-apply "$n" repair --threads 2 --apply --journal JOURNAL ROOT
  trace undo "$n" undo --apply JOURNAL
  mk "$work/t$n" "$n"
  rm -f "$work/j$n"
  trace chown-apply "$n" chown --threads 2 --apply --journal JOURNAL --chown_from 1042 --chown_to 1043:5000 ROOT
done
for label in repair-dry repair-apply chown-dry chown-apply undo; do row "$label"; done
