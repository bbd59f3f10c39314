/**
 * A PWALK_LIB that is not pwalk's library says so and what to do, in one
 * line: a program (a position-independent executable, which glibc's dlopen
 * refuses), a file the user cannot read, another library (the system's C
 * library: neither pw_version() nor pw_source_id(), not "built before
 * pwalk checked its libraries").
 */
import { assert, assertEquals } from "@std/assert";
import { REPO, run, UNPRIVILEGED } from "./helpers/run.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

/** `pwalk DIR` with PWALK_LIB=lib; its stderr's last line. */
async function refused(lib: string, dir: string, prefix: string[] = []): Promise<string> {
  const r = await run(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, dir], {
    env: { PWALK_LIB: lib },
    prefix,
  });
  assertEquals(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assertEquals(lines.length, 1, r.stderr);
  return lines[0];
}

const FIX =
  "give the path of a built libpwalk (`deno task build` makes zig-out/lib/libpwalk.so), " +
  "or unset PWALK_LIB";

Deno.test({
  name: "a PWALK_LIB that is a program says it is not a library, and what to give",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir("pwalk-libmsg-");
    const sh = Deno.realPathSync("/bin/sh");
    const probe = await run("sh", ["-c", `od -An -tx1 -j16 -N1 ${sh}`]);
    if (probe.text.trim() !== "03") return; // not PIE here: dlopen might load it
    const line = await refused(sh, tmp.path);
    assert(line.startsWith(`pwalk: ${sh}: `), line);
    assert(line.endsWith(`(PWALK_LIB): it is a program, not a library: ${FIX}`), line);
  },
});

Deno.test({
  name: "a PWALK_LIB that is another library (the C library) is not called an old pwalk",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir("pwalk-libmsg-");
    // the C library this process maps: a real ELF library without pwalk's symbols
    const maps = Deno.readTextFileSync("/proc/self/maps").split("\n");
    const libc = maps.map((l) => l.split(/ +/)[5]).find((p) => /\/libc\.so\.6$/.test(p ?? ""))!;
    assert(libc, "no libc.so.6 mapped");
    assertEquals(
      await refused(libc, tmp.path),
      `pwalk: ${libc} (PWALK_LIB) is not pwalk's native library (it has neither pw_version() ` +
        `nor pw_source_id()): ${FIX}`,
    );
  },
});

testNeeding([SETPRIV], {
  name: "a PWALK_LIB the user cannot read says to make it readable",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir("pwalk-libmsg-");
    await Deno.chmod(tmp.path, 0o755);
    const lib = `${tmp.path}/unread.so`;
    await Deno.copyFile(`${REPO}/zig-out/lib/libpwalk.so`, lib);
    await Deno.chmod(lib, 0o000);
    const line = await refused(lib, tmp.path, UNPRIVILEGED);
    assert(line.startsWith(`pwalk: ${lib}: `), line);
    assert(
      line.endsWith(
        `Permission denied: make it readable by you (chmod a+r ${lib}), ` +
          "or give PWALK_LIB a copy you can read",
      ),
      line,
    );
  },
});
