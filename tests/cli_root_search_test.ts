/**
 * A ROOT that can be listed but not searched (mode r--, no x): every
 * command that walks it refuses it as bad usage (2), one line, nothing
 * written, as one it cannot open and list (a report ran with status 0 and
 * ROOT's row alone, an error line for each entry). Run without
 * capabilities (setpriv), the folder root's: its owner bits apply.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { cli, run, UNPRIVILEGED } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";
import { shimTest } from "./helpers/shim.ts";

const lines = (s: string) => s.split("\n").filter((l) => l !== "");

/** The commands whose ROOT the native library walks, their outputs named from `out`. */
const WALKED = (out: string): string[][] => [
  ["-o", `${out}.csv`],
  ["report", "--errors", `${out}.errors.csv`],
  ["repair", "--apply", "--journal", `${out}.journal`],
  ["--chown_from", "1", "--chown_to", "2:2", "--apply", "--journal", `${out}.j`],
];

/** Every command that walks a ROOT (plan and slurm list it with Deno). */
const COMMANDS = (out: string): string[][] => [
  ...WALKED(out),
  ["plan", "--shards", "2", "-o", `${out}.json`],
  ["slurm", "--shards", "2", "--out", `${out}.scan`, "--dry-run"],
];

testNeeding([SETPRIV], {
  name: "a ROOT listed but not searched (r--): bad usage (2) for every command, nothing written",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using t = await tempDir();
    const root = `${t.path}/rnx`;
    await Deno.mkdir(`${root}/a`, { recursive: true });
    await Deno.mkdir(`${root}/b`);
    await Deno.chmod(root, 0o444);
    // the premise, by other tools: ls lists it, stat cannot look at an entry
    const ls = await run(UNPRIVILEGED[0], [...UNPRIVILEGED.slice(1), "ls", root]);
    assertEquals(lines(ls.text).sort(), ["a", "b"]);
    const st = await run(UNPRIVILEGED[0], [...UNPRIVILEGED.slice(1), "stat", `${root}/a`]);
    assertEquals(st.code, 1);
    assertStringIncludes(st.stderr, "Permission denied");
    const out = `${t.path}/out`;
    for (const args of COMMANDS(out)) {
      const r = await cli([...args, root], { prefix: UNPRIVILEGED });
      assertEquals(
        [r.code, lines(r.stderr), r.text],
        [2, [
          `pwalk: ${root}: Permission denied (it can be listed but not searched: no x ` +
          "permission, so none of its entries could be looked at)",
        ], ""],
        args.join(" "),
      );
    }
    const left = Array.from(Deno.readDirSync(t.path), (e) => e.name);
    assertEquals(left, ["rnx"], "nothing written");
    assertEquals((await Deno.lstat(root)).mode! & 0o7777, 0o444); // as it was
  },
});

/**
 * An LD_PRELOAD shim: the library's getdents64 (through syscall(3)) of a
 * folder named "unlistable" fails with EIO, as a damaged folder's, a FUSE
 * server's failing READDIR or /proc/PID/map_files's do (the open works).
 */
const UNLISTABLE_C = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
long syscall(long n, ...) {
  static long (*real)(long, ...);
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  va_list ap;
  va_start(ap, n);
  long a[6];
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  if (n == SYS_getdents64) {
    char link[64], to[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", (int)a[0]);
    ssize_t k = readlink(link, to, sizeof to - 1);
    if (k > 11 && memcmp(to + k - 11, "/unlistable", 11) == 0) {
      errno = EIO;
      return -1;
    }
  }
  return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
`;

shimTest(
  "a ROOT that opens but whose listing fails (EIO): bad usage (2) for the commands the " +
    "library walks it for, nothing written",
  UNLISTABLE_C,
  async (shim) => {
    const root = `${shim.dir}/unlistable`;
    await Deno.mkdir(`${root}/a`, { recursive: true });
    // the premise: the shim fails the library's listing, not the open
    const walked = await shim.cli([`${shim.dir}`]);
    assertEquals(walked.code, 0, walked.stderr);
    assertStringIncludes(walked.stderr, `pwalk: read '${root}': Input/output error`);
    const out = `${shim.dir}/out`;
    for (const args of WALKED(out)) {
      const r = await shim.cli([...args, root]);
      assertEquals(
        [r.code, lines(r.stderr), r.text],
        [2, [`pwalk: ${root}: Input/output error`], ""],
        args.join(" "),
      );
    }
    const left = Array.from(Deno.readDirSync(shim.dir), (e) => e.name).sort();
    assertEquals(left, ["shim.c", "shim.so", "unlistable"], "nothing written");
  },
);

testNeeding([SETPRIV], {
  name:
    "a relative ROOT below a folder the user cannot search (a working folder inherited by sudo -u or su) is walked, as C pwalk walks it",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using t = await tempDir();
    // t/locked (another user's, 0700) / sub (root's, with a file): the
    // caller, root without capabilities, is in sub and cannot search locked
    const sub = `${t.path}/locked/sub`;
    await Deno.mkdir(sub, { recursive: true });
    await Deno.writeTextFile(`${sub}/f`, "data");
    await Deno.mkdir(`${sub}/in`);
    await Deno.writeTextFile(`${sub}/in/g`, "more");
    await Deno.chown(`${t.path}/locked`, 65534, 65534);
    await Deno.chmod(`${t.path}/locked`, 0o700);
    // the premise: a path through locked cannot be looked at
    const st = await run(UNPRIVILEGED[0], [...UNPRIVILEGED.slice(1), "stat", sub]);
    assertStringIncludes(st.stderr, "Permission denied");
    // the reference: what the user sees of "." (lstat and listing as given)
    const py = await run(UNPRIVILEGED[0], [
      ...UNPRIVILEGED.slice(1),
      "/usr/bin/python3", // (not a pyenv shim, which cannot look at its working folder here)
      "-c",
      "import os; print(*(x for p in ['.', 'f', 'in', 'in/g'] for x in (os.lstat(p).st_ino, " +
      "os.lstat(p).st_size)))",
    ], { cwd: sub });
    assertEquals(py.code, 0, py.stderr);
    const [dotIno, dotSize, fIno, fSize, inIno, inSize, gIno, gSize] = lines(py.text)[0].split(" ");
    for (const args of [["."], ["-o", "/dev/stdout", "."]]) {
      const r = await cli(args, { prefix: UNPRIVILEGED, cwd: sub });
      assertEquals(r.code, 0, r.stderr);
      const rows = lines(r.text).map((l) => l.split(","));
      assertEquals(
        rows.map((c) => [c[0], c[3], c[7]]).sort(),
        [[dotIno, '"."', dotSize], [fIno, '"./f"', fSize], [inIno, '"./in"', inSize], [
          gIno,
          '"./in/g"',
          gSize,
        ]].sort(),
        r.stderr,
      );
    }
    // any relative ROOT there, not only "."
    for (const root of ["in", "./in/", "in/../in"]) {
      const r = await cli([root], { prefix: UNPRIVILEGED, cwd: sub });
      assertEquals(r.code, 0, `${root}: ${r.stderr}`);
      const rows = lines(r.text).map((l) => l.split(","));
      const name = root.replace(/\/+$/, "");
      assertEquals(
        rows.map((c) => [c[0], c[3], c[7]]).sort(),
        [[inIno, `"${name}"`, inSize], [gIno, `"${name}/g"`, gSize]].sort(),
        `${root}: ${r.stderr}`,
      );
    }
  },
});
