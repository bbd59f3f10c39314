/**
 * lib/trust.ts, the rule for folders pwalk trusts (the journal's, the
 * library cache's, the spill folder's, an output's): paths that climb out
 * of what was checked, or lead through another user's link, are not
 * trusted. Each case is the way another user (uid 60001) could otherwise
 * put root's file or library in a folder of hers.
 *
 * @module
 */
import { assertEquals, assertMatch } from "@std/assert";
import { untrustedAncestor } from "../lib/trust.ts";
import { cli, runOk } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test({
  name: "trust: a '..' after a name not there yet is not trusted (she may make that name later)",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir();
    const sticky = `${tmp.path}/sticky`;
    const hers = `${tmp.path}/hers`;
    await Deno.mkdir(sticky);
    await Deno.chmod(sticky, 0o1777);
    await Deno.mkdir(`${hers}/tmp`, { recursive: true });
    await Deno.chown(hers, 60001, 60001);
    // the control: her folder named plainly is refused, a folder of root's is not
    assertMatch(untrustedAncestor(`${hers}/tmp`, 0)!, /owned by uid 60001/);
    assertEquals(untrustedAncestor(`${tmp.path}/sticky/new/deeper`, 0), undefined);
    // "nx" is not there: every name after it failed lstat and was skipped
    const climb = `${sticky}/nx/../../hers/tmp`;
    assertMatch(untrustedAncestor(climb, 0)!, /cannot be checked: "\.\." after .*\/nx/);
    // as the spill folder's parent (TMPDIR kept by su without -): refused, nothing made
    const scan = `${tmp.path}/scan.csv`;
    await Deno.mkdir(`${tmp.path}/tree`);
    assertEquals((await cli(["-o", scan, `${tmp.path}/tree`])).code, 0);
    const r = await cli(["summary", scan], { env: { TMPDIR: climb } });
    assertEquals(r.code, 1, r.stderr);
    assertMatch(r.stderr, /^pwalk: DuckDB's spill folder would go in .*cannot be checked/);
    assertEquals([...Deno.readDirSync(`${hers}/tmp`)], []);
  },
});

Deno.test({
  name: "trust: a link of root's that leads through another user's link is not trusted",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir();
    const rootdir = `${tmp.path}/rootdir`;
    const hers = `${tmp.path}/hers`;
    await Deno.mkdir(rootdir);
    await Deno.mkdir(hers);
    await Deno.chown(hers, 60001, 60001);
    // her link to root's folder today (she may point it at hers tomorrow),
    // and root's link to her link: the written path and the real path are
    // both root's, the link in the middle is not
    await Deno.symlink(rootdir, `${hers}/L`);
    await runOk("chown", ["-h", "60001:60001", `${hers}/L`]);
    await Deno.symlink(`${hers}/L`, `${tmp.path}/rootlink`);
    assertEquals(untrustedAncestor(`${rootdir}/lib.so`, 0), undefined);
    assertMatch(untrustedAncestor(`${tmp.path}/rootlink/lib.so`, 0)!, /hers.* owned by uid 60001/);
  },
});
