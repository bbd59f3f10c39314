/**
 * LD_PRELOAD shims: a few lines of C around a libc call, compiled for one
 * test and preloaded into the child process that runs pwalk (the CLI, or
 * the API through api_json.ts), so that a race happens at the very moment
 * the test wants it (an entry deleted between its listing and its stat, a
 * folder swapped for a link when it is opened...).
 *
 * @module
 */
import type { WalkJson } from "./api_json.ts";
import { apiInChild, cli, type JsonSummary, type Ran, runOk, walkInChild } from "./run.ts";
import { CC, testNeeding } from "./system.ts";
import { tempDir } from "./temp.ts";

/**
 * C to put at the end of a shim that defines `fstatat`, `fstatat64`, `stat`
 * or `stat64`: glibc before 2.33 has none of them as functions, and a
 * library built against it calls `__fxstatat`, `__fxstatat64`, `__xstat`
 * and `__xstat64` instead (with a struct version first) — pwalk's library
 * does, built for the release libraries' glibc 2.27 floor (build.zig).
 * These pass such calls on to the shim's own function (else libc's), so
 * that the shim sees the library's calls. The version is not looked at:
 * on x86_64 and aarch64 each one's struct is the struct of today's call.
 */
export const OLD_GLIBC_STAT_C: string = `
int __fxstatat(int ver, int fd, const char *p, struct stat *st, int fl) {
  (void)ver;
  return fstatat(fd, p, st, fl);
}
int __fxstatat64(int ver, int fd, const char *p, struct stat64 *st, int fl) {
  (void)ver;
  return fstatat64(fd, p, st, fl);
}
int __xstat(int ver, const char *p, struct stat *st) {
  (void)ver;
  return stat(p, st);
}
int __xstat64(int ver, const char *p, struct stat64 *st) {
  (void)ver;
  return stat64(p, st);
}
`;

/**
 * The C source of a shim that calls `hook(dirfd, name)` just after each
 * successful `fstatat` (and `fstatat64`, and glibc 2.27's forms:
 * {@link OLD_GLIBC_STAT_C}) of the walker, `decls` being the
 * hook and what it needs (after `<dlfcn.h>`, `<fcntl.h>`, `<stdlib.h>`,
 * `<string.h>`, `<sys/stat.h>` and `<unistd.h>`).
 *
 * @example
 * ```ts ignore
 * const SHIM = afterFstatat("hit", `static void hit(int fd, const char *p) { ... }`);
 * ```
 */
export function afterFstatat(hook: string, decls: string): string {
  const wrap = (fn: string, st: string) =>
    `typedef int (*${fn}_fn)(int, const char *, ${st} *, int);
int ${fn}(int fd, const char *p, ${st} *st, int fl) {
  static ${fn}_fn real;
  if (!real) real = (${fn}_fn)dlsym(RTLD_NEXT, "${fn}");
  int r = real(fd, p, st, fl);
  if (r == 0) ${hook}(fd, p);
  return r;
}
`;
  return `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
${decls}
${wrap("fstatat", "struct stat")}${wrap("fstatat64", "struct stat64")}${OLD_GLIBC_STAT_C}`;
}

/**
 * The C source of a shim that calls `hook(name, flags)` just before each
 * `openat`, `openat64`, `open` and `open64` (the calls that open a path:
 * the library's, Deno's and node:fs's), `decls` being the hook and what it
 * needs (after
 * `<dlfcn.h>`, `<fcntl.h>`, `<stdarg.h>`, `<stdio.h>`, `<stdlib.h>`,
 * `<string.h>`, `<sys/stat.h>` and `<unistd.h>`).
 *
 * @example
 * ```ts ignore
 * const SHIM = beforeOpenat("swap", `static void swap(const char *p, int flags) { ... }`);
 * ```
 */
export function beforeOpenat(hook: string, decls: string): string {
  // at: with a folder descriptor first (openat), or not (open)
  const wrap = (fn: string, at: boolean) => {
    const dfd = at ? "int dfd, " : "";
    const params = `${at ? "int, " : ""}const char *, int, ...`;
    return `int ${fn}(${dfd}const char *p, int flags, ...) {
  static int (*real)(${params});
  if (!real) real = (int (*)(${params}))dlsym(RTLD_NEXT, "${fn}");
  int mode = 0;
  if (flags & (O_CREAT | __O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, int);
    va_end(ap);
  }
  ${hook}(p, flags);
  return real(${at ? "dfd, " : ""}p, flags, mode);
}
`;
  };
  return `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
${decls}
${wrap("openat", true)}${wrap("openat64", true)}${wrap("open", false)}${wrap("open64", false)}`;
}

/** What a {@link shimTest} body gets: its folder, and runners that preload the shim. */
export interface Shim {
  /** The test's temporary folder (the shim is built in it). */
  dir: string;
  /** `pwalk <args>` with the shim preloaded and these extra environment variables. */
  cli(args: string[], env?: Record<string, string>): Promise<Ran>;
  /** report() or repair() in a child process with the shim preloaded. */
  api(
    fn: "report" | "repair",
    root: string,
    options: Record<string, unknown>,
    env?: Record<string, string>,
  ): Promise<JsonSummary>;
  /** walk() in a child process with the shim preloaded (skip: RegExp sources). */
  walk(root: string, options: Record<string, unknown>): Promise<WalkJson>;
}

/**
 * A test that compiles the C `source` into a shared object (cc, so the test
 * needs gcc: system.ts) in a fresh temporary folder and hands `fn` runners
 * that preload it.
 *
 * @example
 * ```ts ignore
 * shimTest("vanished entries are reported", VANISH_C, async (shim) => {
 *   const r = await shim.cli([`${shim.dir}/tree`]);
 * });
 * ```
 */
export function shimTest(
  name: string,
  source: string,
  fn: (shim: Shim, t: Deno.TestContext) => Promise<void>,
): void {
  testNeeding([CC], {
    name,
    async fn(t) {
      await using tmp = await tempDir("pwalk-shim-");
      const so = `${tmp.path}/shim.so`;
      await Deno.writeTextFile(`${tmp.path}/shim.c`, source);
      await runOk("cc", ["-shared", "-fPIC", "-O2", "-o", so, `${tmp.path}/shim.c`, "-ldl"]);
      const env = (extra: Record<string, string> = {}) => ({ env: { LD_PRELOAD: so, ...extra } });
      await fn({
        dir: tmp.path,
        cli: (args, extra) => cli(args, env(extra)),
        api: (f, root, options, extra) => apiInChild(f, root, options, env(extra)),
        walk: (root, options) => walkInChild(root, options, env()),
      }, t);
    },
  });
}

/** An LD_PRELOAD shim: fstatat of a name starting with "vanish-" first deletes it. */
export const VANISH_C: string = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
typedef int (*fstatat_fn)(int, const char *, struct stat *, int);
static void vanish(int fd, const char *p) {
  const char *b = strrchr(p, '/');
  b = b ? b + 1 : p;
  if (strncmp(b, "vanish-", 7) == 0) unlinkat(fd, p, 0);
}
int fstatat(int fd, const char *p, struct stat *st, int fl) {
  static fstatat_fn real;
  if (!real) real = (fstatat_fn)dlsym(RTLD_NEXT, "fstatat");
  vanish(fd, p);
  return real(fd, p, st, fl);
}
typedef int (*fstatat64_fn)(int, const char *, struct stat64 *, int);
int fstatat64(int fd, const char *p, struct stat64 *st, int fl) {
  static fstatat64_fn real;
  if (!real) real = (fstatat64_fn)dlsym(RTLD_NEXT, "fstatat64");
  vanish(fd, p);
  return real(fd, p, st, fl);
}
${OLD_GLIBC_STAT_C}`;
