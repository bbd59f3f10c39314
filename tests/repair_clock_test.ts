/**
 * Rule 9's "ctime older than the run's start second" guard against the
 * kernel's coarse clock: file systems stamp ctimes from it
 * (ktime_get_coarse_real_ts64), and it runs up to a tick behind
 * CLOCK_REALTIME. Just after a second begins, CLOCK_REALTIME is in the new
 * second while a link made after it still gets a ctime in the old one: a
 * run that took its start from CLOCK_REALTIME saw that link as older than
 * itself, its names settled (audit 8, finding 3). The run's start comes
 * from CLOCK_REALTIME_COARSE on Linux.
 *
 * An LD_PRELOAD shim holds that moment: for the library's clock_gettime
 * of the run's start, CLOCK_REALTIME answers the coarse clock's next
 * second (its first nanoseconds: the fine clock a tick ahead across a
 * second boundary), CLOCK_REALTIME_COARSE the coarse clock as it is; and
 * right after that call, the run having started, it links a second name
 * to a file of the tree, whose ctime the file system takes from the
 * coarse clock.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { shimTest } from "./helpers/shim.ts";
import { buildTree, G } from "./helpers/repair_tree.ts";

const CLOCK_SHIM = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
typedef int (*gettime_fn)(clockid_t, struct timespec *);
static int done;
int clock_gettime(clockid_t clk, struct timespec *ts) {
  static gettime_fn real;
  if (!real) real = (gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
  Dl_info info;
  if (done || (clk != CLOCK_REALTIME && clk != CLOCK_REALTIME_COARSE) ||
      !dladdr(__builtin_return_address(0), &info) || !info.dli_fname ||
      !strstr(info.dli_fname, "libpwalk"))
    return real(clk, ts);
  done = 1;
  int r = real(CLOCK_REALTIME_COARSE, ts);
  if (r == 0 && clk == CLOCK_REALTIME) {
    ts->tv_sec += 1;
    ts->tv_nsec = 9;
  }
  const char *a = getenv("SHIM_A"), *b = getenv("SHIM_B");
  if (a && b) link(a, b);
  return r;
}
`;

shimTest(
  "a second name linked just after the run started, in the coarse clock's second before CLOCK_REALTIME's: not taken as settled (rule 9)",
  CLOCK_SHIM,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "d1", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
      { rel: "d2", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
      { rel: "d1/A", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
    ]);
    const a = `${root}/d1/A`, b = `${root}/d2/B`;
    const before = Deno.lstatSync(a);
    const r = await shim.cli(
      ["repair", "--apply", "--journal", `${shim.dir}/j`, "--errors", "/dev/stderr", root],
      { SHIM_A: a, SHIM_B: b },
    );
    assertEquals(r.code, 0, r.stderr);
    // the premise: the shim linked the second name during the run
    const after = Deno.lstatSync(a), second = Deno.lstatSync(b);
    assertEquals([second.ino, after.nlink], [after.ino, 2], "the shim made no link");
    // left alone, with a notice: its names may have been changing
    assertEquals(
      [after.gid, after.mode! & 0o7777],
      [before.gid, before.mode! & 0o7777],
      `changed while its names may be changing:\n${r.text}${r.stderr}`,
    );
    assertStringIncludes(r.stderr, ",hardlinks,,");
    assertStringIncludes(r.stderr, "names changed during the run or just before it");
    assert(!r.text.includes("d1/A:") && !r.text.includes("d2/B:"), r.text);
  },
);
