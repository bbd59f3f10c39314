#!/usr/bin/env bash
# Sanitizer builds of the native library with its C driver (native/driver/
# pwdrive.c), run over a generated hostile tree: AddressSanitizer +
# UndefinedBehaviorSanitizer, then ThreadSanitizer.  Any report fails.
# Every run of the driver also passes NULL, 0 where Deno passes an empty
# Uint8Array (pw_opts_set_str, pw_job_current, pw_job_message): UBSan,
# which aborts at its first report, sees any memcpy/memchr through it.
set -Eeuo pipefail
# a failed check says which (a bare `[ ... ]` fails silently otherwise)
trap 'echo "native.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
sh tools/build.sh >/dev/null # fetches the zstd and libdeflate sources on first use
Z=.tools/zstd/node_modules/zstd-napi/deps/zstd/lib
D=$(sed -n 's/^LIBDEFLATE_SYS_VERSION=//p' tools/build.sh)
D=.tools/libdeflate/libdeflate-sys-$D/libdeflate
work=$(mktemp -d)
trap 'umount "$work/huge" "$work"/mnts/{m0,bind,a/b/c/d/e/m} 2>/dev/null; chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
python3 bench/mktree.py "$work/tree" --files 4000 --seed 11 --weird 2>/dev/null
# big enough for the governor (govern.c) to look a few dozen times
python3 bench/mktree.py "$work/big" --files 30000 --seed 13 2>/dev/null
# one wide folder (its names shared among idle workers), with subfolders in it
mkdir -p "$work/wide/w"
(cd "$work/wide/w" && for i in $(seq 1 40); do mkdir "s$i"; : >"s$i/f"; done &&
  seq 1 6000 | sed 's/^/f/' | xargs touch)

# sparse files whose sizes add up past 2^63, on a tmpfs (ext4 caps a file at
# 16 TiB; as root only, as CI runs)
huge=""
if [ "$(id -u)" = 0 ] && mkdir -p "$work/huge" &&
  mount -t tmpfs -o size=1m pwalk-huge "$work/huge" 2>/dev/null; then
  huge="$work/huge"
  truncate -s 9223372036854775807 "$huge/a" "$huge/b" && truncate -s 16T "$huge/c"
fi

# mount points, whose listing inode is the covered folder's (as root): two
# tmpfs, one deep, and a bind mount of the same file system
mnts=""
if [ "$(id -u)" = 0 ] && mkdir -p "$work/mnts/a/b/c/d/e/m" "$work/mnts/m0" "$work/mnts/bind" &&
  mount -t tmpfs -o size=1m pwalk-m "$work/mnts/a/b/c/d/e/m" 2>/dev/null &&
  mount -t tmpfs -o size=1m pwalk-m0 "$work/mnts/m0" && mount --bind "$work/wide/w/s1" "$work/mnts/bind"; then
  mnts="$work/mnts"
  : >"$work/mnts/a/b/c/d/e/m/inside"; : >"$work/mnts/m0/in0"
fi

srcs=(native/*.c) # the library is every .c file in native/ (as build.zig builds it)
zsrcs=("$Z"/common/*.c "$Z"/compress/*.c)
dsrcs=("$D"/lib/{deflate_compress,gzip_compress,crc32,utils}.c "$D"/lib/{x86,arm}/cpu_features.c)

build() { # name, flags...
  local name=$1; shift
  # zstd and libdeflate are compiled without sanitizers (they are not ours,
  # and TSan/ASan make them very slow); every pwalk source and the driver
  # are instrumented.
  mkdir -p "$work/$name/z" "$work/$name/d"
  (cd "$work/$name/z" && gcc -O1 -g -pthread -c -I"$OLDPWD/$Z" -DZSTD_NO_TRACE \
    -DXXH_NAMESPACE=PW_ZSTD_ "${zsrcs[@]/#/$OLDPWD/}" 2>/dev/null)
  # one folder per object: two libdeflate files are named cpu_features.c
  local f
  for f in "${dsrcs[@]}"; do
    gcc -O1 -g -c -I"$D" -include native/deflate_hide.h -o "$work/$name/d/d$(echo "$f" | tr / _).o" "$f"
  done
  gcc -O1 -g -pthread -std=gnu11 -Wall -Wextra -Werror -fno-omit-frame-pointer "$@" -I"$Z" -I"$D" \
    -o "$work/$name/pwdrive" native/driver/pwdrive.c "${srcs[@]}" "$work/$name"/z/*.o \
    "$work/$name"/d/*.o
}

run() { # binary, args... (sanitizer output makes the run fail)
  local bin=$1; shift
  "$bin" "$@" >"$work/out" 2>"$work/err" || {
    code=$?
    # status 130 is a requested cancel
    if [ "$code" != 130 ]; then cat "$work/err" >&2; return 1; fi
  }
  if grep -q "Sanitizer\|runtime error" "$work/err"; then cat "$work/err" >&2; return 1; fi
}

# Sharing a wide folder's names needs idle workers to wake while one lists
# it: on a loaded machine (CI beside other jobs) the lister may finish it
# first, so a run that shared is looked for among three.
shares() { # run's args...
  local i
  for i in 1 2 3; do
    run "$@" || return 1
    if grep -q " shared=[1-9]" "$work/err"; then return 0; fi
  done
  echo "native: $* never shared the wide folder's names in 3 runs" >&2
  return 1
}

check_all() { # binary
  local b=$1
  run "$b" -t 4 -H "$work/tree"
  local rows; rows=$(wc -l <"$work/out")
  # default threads: the governor thread moves the queue's reader limit
  run "$b" -H "$work/tree"
  [ "$(wc -l <"$work/out")" -eq "$rows" ]
  run "$b" -t 3 "$work/big"
  local big_rows; big_rows=$(wc -l <"$work/out")
  run "$b" "$work/big"
  [ "$(wc -l <"$work/out")" -eq "$big_rows" ]
  # descriptors scarce (ulimit -n 6: eight workers share two or three):
  # every row all the same, the workers waiting for one another
  (ulimit -n 6 && run "$b" -t 8 -H "$work/tree")
  [ "$(wc -l <"$work/out")" -eq "$rows" ]
  # ... and none left (ROOT, opened first, takes the last but one; the
  # output then finds none): a fatal error, status 1, no output; never a
  # run missing folders
  rm -f "$work/nofd.csv"
  if (ulimit -n 5 && exec "$b" -t 2 "$work/tree" "$work/nofd.csv") >"$work/out" 2>"$work/err"; then
    cat "$work/err" >&2; return 1
  fi
  # (each check its own command: set -e skips a failure before the last of an && list)
  grep -q "status=2 .*fatal=.*Too many open files" "$work/err"
  [ ! -e "$work/nofd.csv" ]
  if grep -q "Sanitizer\|runtime error" "$work/err"; then cat "$work/err" >&2; return 1; fi
  # an empty output name: refused before the walk, nothing made in the
  # current folder (stat("") is ENOENT: a temporary file there, a walk, and
  # a failed rename at the end)
  mkdir -p "$work/emptycwd"
  if (cd "$work/emptycwd" && exec "$b" -t 2 "$work/tree" "") >"$work/out" 2>"$work/err"; then
    cat "$work/err" >&2; return 1
  fi
  grep -q "status=2 entries=0 .*fatal=output name is empty: not written" "$work/err"
  [ -z "$(ls -A "$work/emptycwd")" ]
  if grep -q "Sanitizer\|runtime error" "$work/err"; then cat "$work/err" >&2; return 1; fi
  # an output reached through links (resolve.c): another user's link in a
  # sticky folder others can write is not followed, at the last name, on
  # the way from a link of root's, or as a folder on the way (as root: the
  # links are uid 60001's), nothing written where they lead
  if [ "$(id -u)" = 0 ]; then
    local st="$work/sticky"
    rm -rf "$st" "$work/vdir"; mkdir -p "$st" "$work/vdir"; chmod 1777 "$st"
    echo secret >"$work/victim"
    ln -s "$work/victim" "$st/hers.csv"; ln -s "$work/vdir" "$st/hersdir"
    ln -s hers.csv "$st/mine.csv"; ln -s "$work/vdir" "$st/rootdir"
    chown -h 60001:60001 "$st/hers.csv" "$st/hersdir"
    local o
    for o in "$st/hers.csv" "$st/mine.csv" "$st/hersdir/x.csv" "$st/rootdir/../sticky/hersdir/x.csv"; do
      if "$b" -t 2 "$work/tree" "$o" >"$work/out" 2>"$work/err"; then cat "$work/err" >&2; return 1; fi
      # (the folder as reached: "$work/vdir/../sticky" through rootdir)
      grep -q "fatal=$o: not followed: .* owned by uid 60001 in [^ ]*/sticky, a sticky folder" "$work/err"
      if grep -q "Sanitizer\|runtime error" "$work/err"; then cat "$work/err" >&2; return 1; fi
    done
    [ "$(cat "$work/victim")" = secret ]
    [ -z "$(ls -A "$work/vdir")" ]
    # root's own link is followed, `..` taken physically (rootdir/.. is $work)
    run "$b" -t 2 "$work/tree" "$st/rootdir/../sticky/rootdir/y.csv"
    [ "$(wc -l <"$work/vdir/y.csv")" -eq $((rows - 1)) ]
    # /proc's links are followed by the kernel, not by their text:
    # /proc/PID/root of a process in another mount namespace reads "/" but
    # leads to its root, where a tmpfs hides the host's folder
    rm -rf "$work/ns"; mkdir -p "$work/ns/mnt"
    unshare -m --propagation private --fork sh -c \
      "mount -t tmpfs pwalk-ns '$work/ns/mnt' && : >'$work/ns/mnt/marker' && exec sleep 60" &
    local ns=$! i
    for i in $(seq 100); do [ -e "/proc/$ns/root$work/ns/mnt/marker" ] && break; sleep 0.1; done
    local nsroot; nsroot=$(pgrep -P "$ns" sleep || echo "$ns")
    run "$b" -t 2 "$work/tree" "/proc/$nsroot/root$work/ns/mnt/out.csv"
    [ "$(ls "/proc/$nsroot/root$work/ns/mnt")" = "marker
out.csv" ]
    [ -z "$(ls -A "$work/ns/mnt")" ]
    kill "$ns" 2>/dev/null; wait "$ns" 2>/dev/null || true
  fi
  # repair refuses walk-only options (following links would change what they lead to)
  if "$b" -t 2 -F -R "$work/tree" >"$work/out" 2>"$work/err"; then cat "$work/err" >&2; return 1; fi
  grep -q "fatal=PW_OPT_FOLLOW, PW_OPT_NO_STAT and PW_OPT_LINK_DIRS are for walk jobs" "$work/err"
  # ... and so does a report (a followed link's real path would break the rows' folder prefix)
  if "$b" -t 2 -F "$work/tree" >"$work/out" 2>"$work/err"; then cat "$work/err" >&2; return 1; fi
  grep -q "fatal=PW_OPT_FOLLOW, PW_OPT_CANONICAL, PW_OPT_NO_STAT, PW_OPT_LINK_DIRS, PW_OPT_SUBDIRS and PW_OPT_NAMES_ONLY are for walk jobs" "$work/err"
  [ ! -s "$work/out" ]
  run "$b" -t 4 -z 3 "$work/tree" "$work/out.csv.zst"
  [ "$(zstd -dc "$work/out.csv.zst" | wc -l)" -eq $((rows - 1)) ]
  # a wide folder's parts: their small chunks gathered into frames, under the write lock
  run "$b" -t 3 -z 1 "$work/big" "$work/big.csv.zst"
  [ "$(zstd -dc "$work/big.csv.zst" | wc -l)" -eq "$big_rows" ]
  # ... at most a frame per 64 KiB chunk and one of small ones before each
  local bytes frames; bytes=$(zstd -dc "$work/big.csv.zst" | wc -c)
  frames=$(zstd -lv "$work/big.csv.zst" 2>/dev/null | sed -n 's/^# Zstandard Frames: *//p')
  [ "$frames" -le $((2 * (bytes + 65535) / 65536 + 2)) ]
  run "$b" -t 4 -g 1 -H "$work/tree" "$work/out.csv.gz"
  [ "$(gzip -dc "$work/out.csv.gz" | wc -l)" -eq "$rows" ]
  # typed Parquet (hostile names escaped): PAR1 at both ends; DuckDB reads it in the Deno tests
  run "$b" -t 4 -p 1 "$work/tree" "$work/out.parquet"
  [ "$(head -c 4 "$work/out.parquet")" = PAR1 ]
  [ "$(tail -c 4 "$work/out.parquet")" = PAR1 ]
  run "$b" -t 3 -p 3 "$work/big" "$work/big.parquet"
  run "$b" -t 8 -c 0 -p 1 "$work/tree" "$work/cancelled.parquet"   # cancelled: nothing left
  [ ! -e "$work/cancelled.parquet" ]
  # a FIFO with no reader yet: opened by a worker once the reader comes
  rm -f "$work/fifo"; mkfifo "$work/fifo"
  (sleep 0.3; gzip -dc <"$work/fifo" >"$work/fifo.out") &
  run "$b" -t 4 -g 2 -H "$work/tree" "$work/fifo"
  wait
  [ "$(wc -l <"$work/fifo.out")" -eq "$rows" ]
  # ... and cancelled while it waits: ends, nothing leaked
  run "$b" -t 2 -c 100 "$work/tree" "$work/fifo"
  run "$b" -t 3 -n -d 3 -x -e "$work/tree/weird" "$work/tree"
  run "$b" -t 8 -c 0 "$work/tree" "$work/cancelled.csv"
  [ ! -e "$work/cancelled.csv" ]
  run "$b" -t 4 -w "$work/tree"
  if [ -n "$huge" ]; then
    # pw_dirsum modulo 2^64 as pwalk's long wraps (2 x (2^63 - 1) + 16 TiB
    # -> 16 TiB - 2), with no undefined behaviour for UBSan to report
    run "$b" -t 2 "$huge"
    grep -q "^[0-9]*,[0-9]*,-1,\"$huge\",.*,3,17592186044414\$" "$work/out"
  fi
  # a wide folder: its names statted by several workers at once (shared=N
  # parts), every row the same as one worker's (the atime column aside)
  run "$b" -t 1 "$work/wide"
  local one; one=$(cut -d, --complement -f13 "$work/out" | sort)
  shares "$b" -t 8 "$work/wide"
  [ "$one" = "$(cut -d, --complement -f13 "$work/out" | sort)" ]
  run "$b" -t 1 -w "$work/wide"
  one=$(cat "$work/out")
  shares "$b" -t 8 -w "$work/wide"
  [ "$one" = "$(cat "$work/out")" ]
  # ... and repaired so (a copy each try: it changes it), journal and all
  # (a sync interval beyond any sense: clamped, no overflow for UBSan to see)
  local try
  for try in 1 2 3; do
    rm -rf "$work/wide2" "$work/wjournal"; cp -a "$work/wide" "$work/wide2"
    PWALK_JOURNAL_SYNC_MS=10000000000000 run "$b" -t 8 -R -A "$work/wide2" "$work/wjournal"
    if grep -q " shared=[1-9]" "$work/err"; then break; fi
    [ "$try" != 3 ] || { echo "native: the repair never shared the wide folder's names" >&2; exit 1; }
  done
  run "$b" -t 8 -c 0 "$work/wide"   # cancelled while parts wait: nothing leaked
  run "$b" -t 8 -w -c 0 "$work/wide"
  run "$b" -t 4 -w -F "$work/tree"
  # a shard's frontier: two folders reached from ROOT one name at a time
  local f1 f2
  f1=$(find "$work/tree" -mindepth 2 -maxdepth 2 -type d | sort | head -1)
  f2=$(find "$work/tree" -mindepth 1 -maxdepth 1 -type d | sort | tail -1)
  run "$b" -t 4 -f "$(stat -c '%d %i 0 1' "$f1") $f1" -f "$(stat -c '%d %i 0 0' "$f2") $f2" \
    "$work/tree" "$work/front.csv"
  [ "$(grep -o 'entries=[0-9]*' "$work/err")" = "entries=$(find "$f1" "$f2" -print0 | tr -dc '\0' | wc -c)" ]
  # ... and the limit of open files raised from too few upward (ROOT
  # relative: one descriptor opens it, so that at the lowest limit it opens
  # and the frontier folder below it does not): a frontier folder that
  # cannot be reached for want of them fails the shard (job.c frontier,
  # after the wait), never a shard that ends OK without it; the first run
  # that ends OK has every entry, no error
  local n front f2rows nofd=0
  front="$(stat -c '%d %i 0 0' "$f2") tree/${f2#"$work/tree/"}"
  f2rows=$(find "$f2" -print0 | tr -dc '\0' | wc -c)
  for n in 4 5 6 7 8 9 10 11 12; do
    (cd "$work" && ulimit -n "$n" && exec "$b" -t 2 -f "$front" tree) >"$work/out" 2>"$work/err" ||
      true
    if grep -q "Sanitizer\|runtime error" "$work/err"; then cat "$work/err" >&2; return 1; fi
    if grep -q "^status=0 " "$work/err"; then
      grep -q "^status=0 entries=$f2rows .*errors=0 " "$work/err" || { cat "$work/err" >&2; return 1; }
      break
    fi
    grep -q "^status=2 .*fatal=.*Too many open files" "$work/err"
    if grep -q "fatal=Too many open files: raise the limit" "$work/err"; then nofd=1; fi
  done
  [ "$nofd" = 1 ]
  run "$b" -t 4 -w -D "$work/tree"   # held walk: every folder waits for its answer
  local held; held=$(cat "$work/out")
  run "$b" -t 4 -w -S "$work/tree"
  [ "$held" = "$(cat "$work/out")" ]  # the same records, held or not
  run "$b" -t 4 -w -c 0 "$work/tree"
  if [ -n "$mnts" ]; then
    # a walk without stat (-S) enters every mount point, opened by name and,
    # the descriptor budget spent (ulimit -n 12), by path: every entry find
    # sees, no error (never a "race")
    local lim want; want=$(find "$mnts" | wc -l)
    for lim in 12 1024; do
      (ulimit -n "$lim" && run "$b" -t 1 -S -w "$mnts")
      grep -q "^status=0 entries=$want .*errors=0 " "$work/err" || { cat "$work/err" >&2; return 1; }
    done
  fi
  # repair and chown on a copy (they change it): dry run, apply, chown
  chmod -R u+rwx "$work/copy" 2>/dev/null || true; rm -rf "$work/copy"
  python3 bench/mktree.py "$work/copy" --files 2000 --seed 12 --weird 2>/dev/null
  rm -f "$work/errors.csv"
  run "$b" -t 4 -R -E "$work/errors.csv" "$work/copy"
  # the tree's group is private: one ancestor notice, as a CSV row
  grep -q "^\"$work/copy\",ancestor,,\"no ancestor" "$work/errors.csv"
  run "$b" -t 4 -R -A "$work/copy" "$work/journal"
  run "$b" -t 4 -C 0:4242:4343 -A "$work/copy"
  [ "$(stat -c %u "$work/copy/weird/with space.txt")" = 4242 ]
  # hard links (rule 9; repair.c count_link): a file of five names (their
  # hashes outgrow the slot's two), one of two, one with a name outside
  # ROOT; their ctimes a second old, so that their names count as settled
  # and the slots are done (and freed) once every name is reached
  rm -rf "$work/links"; mkdir -p "$work/links/t/a" "$work/links/t/b"
  : >"$work/links/t/a/five"; : >"$work/links/t/a/two"; : >"$work/links/t/out"
  for n in 2 3 4 5; do ln "$work/links/t/a/five" "$work/links/t/b/five$n"; done
  ln "$work/links/t/a/two" "$work/links/t/b/two"; ln "$work/links/t/out" "$work/links/outside"
  chmod 600 "$work/links/t/a/five" "$work/links/t/a/two" "$work/links/t/out"
  # (as root: ROOT's group shared, so that the files' plans change them)
  if [ "$(id -u)" = 0 ]; then chgrp 5000 "$work/links/t" && chmod 2775 "$work/links/t"; fi
  sleep 1.1
  run "$b" -t 4 -R "$work/links/t"
  if [ "$(id -u)" = 0 ]; then
    grep -q "hardlinks '$work/links/t/out'" "$work/err"
    [ "$(grep -c "hardlinks '" "$work/err")" = 1 ]
  fi
  # a missing root is a fatal error (status 1), reported, with nothing leaked
  if "$b" -t 2 /nonexistent >/dev/null 2>"$work/err"; then return 1; fi
  ! grep -q "Sanitizer\|runtime error" "$work/err"
  # ... and one too long for the message: its middle cut, its reason kept
  if "$b" -t 2 "/nonexistent/$(printf 'folder-%.0s' {1..100})" >/dev/null 2>"$work/err"; then
    return 1
  fi
  ! grep -q "Sanitizer\|runtime error" "$work/err"
  grep -q "fatal=/nonexistent/folder-.*\.\.\..*: No such file or directory" "$work/err"
  # a held report or repair (nothing answers its folders) fails at once, not hangs
  for job in "" -R; do
    if timeout 20 "$b" -t 2 $job -D "$work/tree" >/dev/null 2>"$work/err"; then return 1; fi
    grep -q "fatal=PW_OPT_HOLD is for walk jobs" "$work/err"
    ! grep -q "Sanitizer\|runtime error" "$work/err"
  done
}

echo "native: csvcheck (rows against printf), ASan + UBSan"
gcc -O1 -g -std=gnu11 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all \
  -o "$work/csvcheck" native/driver/csvcheck.c native/csvfmt.c
"$work/csvcheck"
echo "native: ASan + UBSan"
build asan -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 check_all "$work/asan/pwdrive"
# a cancel that comes after the workers ended, while pw_job_wait ends the
# job: an empty report (its one frontier folder gone) to a FIFO with no
# reader waits there for one, in report_end; the cancel (-K: SIGUSR1, once
# only the main thread and -K's are left, the workers joined) ends it as
# cancelled (status 1, exit 130), nothing written, never a failure
# CSV and Parquet (an empty Parquet file: no row group to sort)
for fmt in "" "-p 1"; do
  rm -f "$work/fifo"; mkfifo "$work/fifo"
  (cd "$work" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 exec "$work/asan/pwdrive" -t 1 -K $fmt \
    -f "$(stat -c '%d %i 0 0' "$work/tree") tree/gone" tree "$work/fifo") >"$work/out" 2>"$work/err" &
  pid=$!
  for i in $(seq 600); do
    [ -d "/proc/$pid/task" ] && [ "$(ls "/proc/$pid/task" | wc -l)" != 2 ] || break; sleep 0.05
  done
  sleep 0.3 # (the main thread from its joins into the wait for a reader)
  kill -USR1 "$pid" 2>/dev/null || true
  rc=0; wait "$pid" || rc=$?
  [ "$rc" = 130 ] || { echo "late cancel ($fmt): exit $rc" >&2; cat "$work/err" >&2; exit 1; }
  grep -q "^status=1 entries=0 " "$work/err"
  if grep -q "Sanitizer\|runtime error\|fatal=" "$work/err"; then cat "$work/err" >&2; exit 1; fi
done
# a worker thread that cannot start (a thread limit): the governed job's
# second worker and then the governor fail to start, so the job starts the
# second one again at once (grow): what the failed start set up (its
# listing buffer, the report's buffer) is used then, not made again over it
# (LeakSanitizer would see them lost); every row still there.  Two CPUs,
# the governed job's first two workers (fewer: no second try to see).
gcc -O1 -shared -fPIC -Wall -Wextra -Werror -o "$work/failthread.so" native/driver/failthread.c -ldl
if taskset -c 0,1 true 2>/dev/null; then
  run "$work/asan/pwdrive" -H "$work/tree"
  rows=$(wc -l <"$work/out")
  FAIL_THREADS=2,3 LD_PRELOAD="$(gcc -print-file-name=libasan.so):$work/failthread.so" \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run taskset -c 0,1 "$work/asan/pwdrive" -H "$work/tree"
  [ "$(wc -l <"$work/out")" -eq "$rows" ]
  grep -q "^status=0 " "$work/err"
  # (the retry made: w0, w1 failed, the governor failed, w1 again, ...)
  [ "$(sed -n 's/^THREADS=//p' "$work/err")" -ge 4 ]
fi
# no worker can start (a thread limit reached): the job fails saying why
FAIL_THREADS=1 LD_PRELOAD="$(gcc -print-file-name=libasan.so):$work/failthread.so" \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$work/asan/pwdrive" -t 1 -H "$work/tree" \
  "$work/out" 2>"$work/err" && { echo "no worker started, yet exit 0" >&2; exit 1; }
grep -q "fatal=cannot start worker threads: Resource temporarily unavailable$" "$work/err" ||
  { echo "no worker started: not said why" >&2; cat "$work/err" >&2; exit 1; }
echo "native: the code paths of other systems (-U__linux__: macOS's dup + fdopendir listing), ASan + UBSan"
# every row as the Linux build's; a listing's dup or fdopendir that fails
# (failopendir.c) is the folder's open error: out of memory fatal (status
# 1, said), out of descriptors waited for and the run whole (never a
# readdir(NULL))
mkdir -p "$work/nl"
gcc -O1 -g -pthread -std=gnu11 -Wall -Wextra -Werror -fno-omit-frame-pointer -U__linux__ \
  -fsanitize=address,undefined -fno-sanitize-recover=all -I"$Z" -I"$D" -o "$work/nl/pwdrive" \
  native/driver/pwdrive.c "${srcs[@]}" "$work"/asan/z/*.o "$work"/asan/d/*.o
gcc -O1 -shared -fPIC -Wall -Wextra -Werror -o "$work/failopendir.so" native/driver/failopendir.c -ldl
nlpre="$(gcc -print-file-name=libasan.so):$work/failopendir.so"
run "$work/asan/pwdrive" -t 2 -H "$work/tree"
rows=$(wc -l <"$work/out")
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run "$work/nl/pwdrive" -t 2 -H "$work/tree"
[ "$(wc -l <"$work/out")" -eq "$rows" ]
(ulimit -n 6 && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run "$work/nl/pwdrive" -t 8 -H "$work/tree")
[ "$(wc -l <"$work/out")" -eq "$rows" ]
for dup in "" 1; do
  rc=0
  FAIL_DIR=4 FAIL_DUP=$dup LD_PRELOAD="$nlpre" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    "$work/nl/pwdrive" -t 2 -H "$work/tree" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" = 1 ] || { echo "failed listing (dup=$dup): status $rc" >&2; cat "$work/err" >&2; exit 1; }
  grep -q "^pwalk: open '$work/tree/.*': Cannot allocate memory$" "$work/err"
  grep -q "^status=2 .*fatal=Cannot allocate memory: the system is out of memory$" "$work/err"
  if grep -q "Sanitizer\|runtime error" "$work/err"; then cat "$work/err" >&2; exit 1; fi
  FAIL_DIR=4 FAIL_DUP=$dup FAIL_ERRNO=EMFILE LD_PRELOAD="$nlpre" \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run "$work/nl/pwdrive" -t 2 -H "$work/tree"
  [ "$(wc -l <"$work/out")" -eq "$rows" ]
  grep -q "^status=0 .*errors=0 " "$work/err"
done
# repair and chown without O_PATH (macOS): a hard link to a file outside
# the tree renamed over the entry's name between its check and its change
# (racename.c, at the change) leaves that file as it was: the change goes
# through a descriptor of the entry checked, never by name (as root: the
# tree's group shared, so that the file's plan changes its mode)
if [ "$(id -u)" = 0 ]; then
  gcc -O1 -shared -fPIC -Wall -Wextra -Werror -o "$work/racename.so" native/driver/racename.c -ldl
  for job in "-R -A" "-C 4242:4343:4343 -A"; do
    rm -rf "$work/race"; mkdir -p "$work/race/p" "$work/race/stash"
    chgrp 5000 "$work/race/p"; chmod 2775 "$work/race/p"
    echo x >"$work/race/p/f"; chmod 600 "$work/race/p/f"; chown 4242 "$work/race/p/f"
    echo secret >"$work/race/victim"; chmod 600 "$work/race/victim"
    ln "$work/race/victim" "$work/race/stash/evil"
    touch -d '2 seconds ago' "$work/race/p/f"; sleep 1.1 # its name settled (repair.c)
    want=$(stat -c '%a %u %g' "$work/race/victim")
    # shellcheck disable=SC2086 # job is words
    STASH="$work/race/stash/evil" RACE_AT="$work/race/p/f" \
      LD_PRELOAD="$(gcc -print-file-name=libasan.so):$work/racename.so" \
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run "$work/nl/pwdrive" -t 1 $job "$work/race/p" \
      "$work/race/journal"
    grep -q "^RACED$" "$work/err"
    [ "$(stat -c '%a %u %g' "$work/race/victim")" = "$want" ] ||
      { echo "$job changed a file outside the tree" >&2; cat "$work/err" >&2; exit 1; }
  done
fi
# SIGXFSZ as macOS sends it, to the process (the first thread that does
# not block it): sys.c built as for macOS sets it ignored while it has its
# default action, so that a write past `ulimit -f` fails with EFBIG
# (r=-27) and ends no process (xfsz.c)
gcc -O1 -std=gnu11 -Wall -Wextra -Werror -D__APPLE__ -U__linux__ -pthread -o "$work/xfsz" \
  native/driver/xfsz.c native/sys.c -lm
[ "$(ulimit -f 4 && exec "$work/xfsz" "$work/xfsz.out")" = "r=-27 ign=1 n=-1" ]
echo "native: TSan"
build tsan -fsanitize=thread
TSAN_OPTIONS=halt_on_error=1 check_all "$work/tsan/pwdrive"
echo "native: allocation failures (each allocation of a run failing in turn)"
# no sanitizer (ASan has its own malloc); zstd's and libdeflate's objects
# are the ASan build's, which are not instrumented
gcc -O1 -g -pthread -std=gnu11 -Wall -Wextra -Werror -I"$Z" -I"$D" -o "$work/plain" \
  native/driver/pwdrive.c "${srcs[@]}" "$work"/asan/z/*.o "$work"/asan/d/*.o
gcc -O1 -shared -fPIC -Wall -Wextra -Werror -o "$work/failmalloc.so" native/driver/failmalloc.c
oom='^(pwdrive: out of memory|status=[0-9]+ .* fatal=(out of memory|cannot write .*: Cannot allocate memory|cannot start worker threads: (Cannot allocate memory|Resource temporarily unavailable)))$'
for fmt in "-z 1" "-p 1"; do
  # shellcheck disable=SC2086 # fmt is two words
  FAIL_COUNT=1 LD_PRELOAD="$work/failmalloc.so" "$work/plain" -t 1 $fmt -H "$work/tree" \
    "$work/fm.out" 2>"$work/err"
  full=$(grep -o 'entries=[0-9]*' "$work/err")
  calls=$(sed -n 's/^MALLOCS=//p' "$work/err")
  [ "$calls" -gt 100 ]
  for n in $(seq 1 "$calls"); do
    # every run either completes whole or fails (exit 1) saying so, as out
    # of memory: the driver's own allocations ("pwdrive: out of memory"),
    # or the job's fatal message (never a crash, a hang, a wrong row
    # count, another error such as "no output given" for an option whose
    # copy failed, or "Input/output error" for zstd's own allocation
    # failing). "cannot start worker threads" is one too: pthread_create
    # whose own allocation fails answers EAGAIN, and the library says that.
    rc=0
    # shellcheck disable=SC2086
    FAIL_AT=$n LD_PRELOAD="$work/failmalloc.so" timeout 60 "$work/plain" -t 1 $fmt -H \
      "$work/tree" "$work/fm.out" >/dev/null 2>"$work/err" || rc=$?
    if [ "$rc" = 0 ]; then
      grep -q "$full " "$work/err" || { echo "FAIL_AT=$n $fmt: exit 0, not $full" >&2; exit 1; }
    elif [ "$rc" != 1 ] || grep -q "Input/output error" "$work/err" ||
      ! grep -Eq "$oom" "$work/err"; then
      echo "FAIL_AT=$n $fmt: status $rc, not out of memory" >&2; cat "$work/err" >&2; exit 1
    fi
  done
done
# without procfs (a container whose /proc is not the kernel's; the
# sanitizers need /proc, so the plain build): a file its owner may not read
# (0200), and a folder it may not list (0300, so that only an O_PATH
# descriptor holds it), have their attributes read by name (getxattrat,
# Linux 6.13), not failed (EACCES, or ENOENT for want of /proc/self/fd):
# their access ACLs are seen and said (acl_named), none "could not be read"
if [ "$(id -u)" = 0 ] && command -v setfacl >/dev/null &&
  unshare -m sh -c 'mount -t tmpfs none /proc' 2>/dev/null; then
  chmod 755 "$work"
  rm -rf "$work/acl"; mkdir -p "$work/acl/p/d" "$work/acl/j"
  chown 65534:100 "$work/acl/p" "$work/acl/j"; chmod 2770 "$work/acl/p"
  echo x >"$work/acl/p/f"; chown 65534:65534 "$work/acl/p/f" "$work/acl/p/d"
  setfacl -m u:1234:r "$work/acl/p/f"; chmod 200 "$work/acl/p/f"
  setfacl -m u:1234:rx "$work/acl/p/d"; chmod 300 "$work/acl/p/d"
  touch -d '2 seconds ago' "$work/acl/p/f" "$work/acl/p/d"; sleep 1.1 # names settled (repair.c)
  unshare -m sh -c 'mount -t tmpfs none /proc && exec "$@"' sh setpriv --reuid=65534 --regid=100 \
    --clear-groups "$work/plain" -R -A -t 2 "$work/acl/p" "$work/acl/j/journal" \
    >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  if [ "$(uname -r | awk -F. '{print ($1 > 6 || ($1 == 6 && $2 >= 13))}')" = 1 ]; then
    ! grep -q "could not be read\|^pwalk: capability" "$work/err" || { cat "$work/err" >&2; exit 1; }
    for n in f d; do
      grep -q "^pwalk: acl_named '$work/acl/p/$n': its access ACL names users" "$work/err" ||
        { cat "$work/err" >&2; exit 1; }
    done
  fi
fi
echo "native: sanitizer runs clean"
