/**
 * A shard's files are on the disk before they take their names: shard 0's
 * output (its two parts joined here, not by the library) and every
 * completion record are synced (fdatasync) before the rename, as the
 * library's own outputs are, so that after a node's crash a record never
 * stands beside a short output. Seen with strace.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { CLI, run } from "./helpers/run.ts";
import { makePlan, shardArgs } from "./helpers/shard.ts";
import { STRACE, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

/** Whether the strace log syncs the file `temp` (a regex of its path) before renaming it to `final`. */
function syncedBeforeRename(lines: string[], temp: RegExp, final: string): string {
  const renamed = lines.findIndex((l) =>
    /\brename\w*\(/.test(l) && temp.test(l) && l.includes(`${final}"`)
  );
  if (renamed < 0) return `no rename of ${temp} to ${final}`;
  const synced = lines.slice(0, renamed).some((l) => {
    const m = /\b(?:fdatasync|fsync)\(\d+<([^>]*)>\) += 0/.exec(l);
    return m !== null && temp.test(m[1]);
  });
  return synced ? "" : `${temp} renamed to ${final} unsynced`;
}

testNeeding([STRACE], {
  name: "shard: shard 0's joined output and the completion record are synced before their rename",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/t`, dir = `${tmp.path}/scan`;
    for (const d of ["a", "b", "c"]) {
      await Deno.mkdir(`${root}/${d}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${d}/f`, d);
    }
    await Deno.mkdir(dir);
    const planFile = `${dir}/plan.json`;
    const plan = await makePlan(root, 2, planFile);
    assert(plan.frontier.some((f) => f.shard === 0), "shard 0 has frontier folders: two parts");
    const log = `${tmp.path}/strace.log`;
    const out = `${dir}/scan-0.csv.zst`;
    const r = await run("strace", [
      "-f",
      "-y",
      "-e",
      "trace=fdatasync,fsync,rename,renameat,renameat2",
      "-o",
      log,
      Deno.execPath(),
      "run",
      "-A",
      CLI,
      ...shardArgs(planFile, 0, out),
    ]);
    assertEquals(r.code, 0, r.stderr);
    const lines = (await Deno.readTextFile(log)).split("\n");
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assertEquals(
      syncedBeforeRename(lines, new RegExp(`${esc(out)}\\.partial-\\d+\\.zst`), out),
      "",
      "the joined output",
    );
    const record = `${dir}/scan-0.done.json`;
    assertEquals(
      syncedBeforeRename(lines, new RegExp(`${esc(record)}\\.partial-\\d+`), record),
      "",
      "the completion record",
    );
  },
});
