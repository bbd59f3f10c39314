/**
 * summary and diff run from a working folder they may not search: a root
 * cron script (in /root, mode 700) that runs them as another user
 * (`runuser -u scanner -- pwalk summary ...`), or `sudo -u` from a private
 * home. Every path they are given is absolute, so they must work there as
 * the report does: the helpers they start (getent for the names, mkfifo for
 * the filter of names that are not UTF-8) start in "/", not in that folder
 * (Deno starts a child in the parent's folder unless told, and fails with
 * "Permission denied" when it cannot go there). Run without capabilities
 * (setpriv), the folder root's and mode 000: its owner bits apply.
 */
import { assertEquals } from "@std/assert";
import { cli, run, UNPRIVILEGED } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";

/**
 * Two scans in `dir` of a tree there: old.csv of one file, then new.csv
 * with a second whose name is not UTF-8 (Latin-1 é), which summary and
 * diff read through the escaping filter, a FIFO.
 */
async function twoScans(dir: string): Promise<{ old: string; scan: string }> {
  const root = `${dir}/tree`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/a`, "x");
  const old = `${dir}/old.csv`;
  assertEquals((await cli(["-o", old, root])).code, 0);
  const sh = await run("sh", ["-c", 'printf x > "$1/caf$(printf "\\351")"', "sh", root]);
  assertEquals(sh.code, 0, sh.stderr);
  const scan = `${dir}/new.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  return { old, scan };
}

testNeeding([SETPRIV], {
  name: "summary and diff from a working folder they cannot search: names and the filter work",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using t = await tempDir();
    const { old, scan } = await twoScans(t.path);
    const closed = `${t.path}/closed`;
    await Deno.mkdir(closed, { mode: 0o000 });
    await Deno.chmod(closed, 0o000);
    const o = { prefix: UNPRIVILEGED, cwd: closed };
    // the premise: the runner cannot search its working folder
    const ls = await run("ls", ["."], o);
    assertEquals(ls.code, 2, "ls reads the working folder");

    const s = await cli(["summary", "--json", scan], o);
    assertEquals([s.code, s.stderr], [0, ""]);
    const summary = JSON.parse(s.text);
    assertEquals(summary.totals.nonUtf8Names, 1);
    assertEquals(summary.users.map((u: { name: string }) => u.name), ["root"]);

    const d = await cli(["diff", "--json", old, scan], o);
    assertEquals([d.code, d.stderr], [0, ""]);
    const diff = JSON.parse(d.text);
    assertEquals(diff.totals.added.entries, 1);
    assertEquals(diff.users.map((u: { name: string }) => u.name), ["root"]);
  },
});

Deno.test("summary and diff with no PATH at all (env -i, a bare job environment): names from the system's getent and the filter's mkfifo, as with PATH (audit)", async () => {
  // users shown as numbers without a word, and a scan with a name that is
  // not UTF-8 refused: "SCAN: Failed to spawn 'mkfifo': entity not found"
  await using t = await tempDir();
  const { old, scan } = await twoScans(t.path);
  // the reference: the name service's own name of the runner's uid
  const ge = await run("getent", ["passwd", String(Deno.uid())]);
  assertEquals(ge.code, 0, ge.stderr);
  const name = ge.text.split(":")[0];
  // only what Deno needs to find its cache: no PATH
  const env: Record<string, string> = {};
  for (const k of ["DENO_DIR", "HOME"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  const o = { clearEnv: true, env };
  const s = await cli(["summary", "--json", scan], o);
  assertEquals([s.code, s.stderr], [0, ""]);
  const summary = JSON.parse(s.text);
  assertEquals(summary.totals.nonUtf8Names, 1);
  assertEquals(summary.users.map((u: { name: string }) => u.name), [name]);
  const d = await cli(["diff", "--json", old, scan], o);
  assertEquals([d.code, d.stderr], [0, ""]);
  assertEquals(JSON.parse(d.text).users.map((u: { name: string }) => u.name), [name]);
});
