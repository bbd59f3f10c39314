/**
 * The bench without benchmarking: how a failed run shows in its progress
 * line and its table row (bench.ts's pure functions), and bench/shards.sh
 * on a small tree (as many shards as the plan made; a failed shard's own
 * error).
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { failureCell, type Measured, type Row, runLine, table, usable } from "../bench/bench.ts";
import { REPO, run } from "./helpers/run.ts";
import { assertSameLines, unionLines, wholeLines } from "./helpers/shard.ts";
import { PYTHON3, testNeeding, ZSTD } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

/** A row measured 3 times whose second run failed. */
function failedOnRun2(): Measured {
  const row: Row = { name: "report-zst", label: "pwalk report", stages: [["deno", "x"]] };
  return {
    row,
    walls: [1.1, 1.3],
    rss: [40, 41],
    sumRss: [40, 41],
    user: [0.5, 0.6],
    sys: [1, 1],
    failures: ["run 2: status 1: pwalk: TREE/a: a | in it\nsecond line"],
  };
}

Deno.test("bench: a row that fails on a later run says FAILED, in its line and its table row, with no median", () => {
  const m = failedOnRun2();
  assert(!usable(m));
  assertEquals(
    runLine(m, 2, 3, "status 1: pwalk: boom\nmore"),
    `bench: run 2/3 ${"report-zst".padEnd(22)} FAILED: status 1: pwalk: boom\n    more`,
  );
  assertEquals(
    failureCell(m),
    "FAILED in 1 of 3 runs (run 2: status 1: pwalk: TREE/a: a \\| in it / second line); " +
      "the other 2 took 1.10-1.30 s",
  );
  const ok: Measured = {
    row: { name: "limitwalk-2", label: "limitwalk", stages: [["limitwalk"]] },
    walls: [1, 1, 1],
    rss: [2, 2, 2],
    sumRss: [2, 2, 2],
    user: [0, 0, 0],
    sys: [2, 2, 2],
    failures: [],
  };
  assertEquals(runLine(ok, 3, 3, null), `bench: run 3/3 ${"limitwalk-2".padEnd(22)} 1.00 s, 2 MiB`);
  const t = table([ok, m], "limitwalk-2").split("\n");
  assertEquals(t.length, 4);
  // every row has the table's 9 cells (the | in the error escaped)
  for (const l of t) assertEquals(l.split(/(?<!\\)\|/).length, 11, l);
  assertMatch(
    t[3],
    /^\| report-zst \| pwalk report<br>`deno x` \| - \| - \| - \| - \| - \| - \| FAILED in 1 of 3 runs /,
  );
  assert(!t[3].includes("1.20"), "no median of the runs that survived");
  assertMatch(t[2], /^\| limitwalk-2 \| .* \| 1\.00 \| 1\.00-1\.00 \|/);
});

testNeeding([PYTHON3, ZSTD], {
  name:
    "bench/shards.sh: runs the shards the plan made (fewer than asked), and shows a failed shard's own error",
  async fn() {
    await using tmp = await tempDir();
    const tree = `${tmp.path}/tree`;
    for (const d of ["a/b", "c", "d/e/f"]) await Deno.mkdir(`${tree}/${d}`, { recursive: true });
    for (const f of ["a/b/f", "c/g", "d/e/f/h", "top"]) await Deno.writeTextFile(`${tree}/${f}`, f);
    const expected = await wholeLines(tree);
    const out = `${tmp.path}/out`;
    const shards = (denoExe: string) =>
      run("sh", [`${REPO}/bench/shards.sh`, denoExe, REPO, tree, "8", out]);
    const r = await shards(Deno.execPath());
    assertEquals(r.code, 0, r.stderr);
    const made = JSON.parse(await Deno.readTextFile(`${out}/plan.json`)).shards as number;
    assert(made >= 2 && made < 8, `a plan of ${made} shards`);
    assertEquals(r.text, `plan made ${made} of 8 shards\n`);
    assertEquals(r.stderr, "");
    const files = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) =>
      /^scan-\d+\.csv\.zst$/.test(n)
    );
    assertEquals(files.sort(), Array.from({ length: made }, (_, i) => `scan-${i}.csv.zst`).sort());
    assertSameLines(await unionLines(out, made), expected, "the shards' union");
    // shard 1 fails; the others succeed and say so on their stderr
    const fake = `${tmp.path}/deno`;
    await Deno.writeTextFile(
      fake,
      `#!/bin/sh\ncase " $* " in *" --shard 1 "*) echo "shard one broke" >&2; exit 3;; esac\nexec ${Deno.execPath()} "$@"\n`,
    );
    await Deno.chmod(fake, 0o755);
    const f = await shards(fake);
    assertEquals(f.code, 1, f.stderr);
    assertEquals(f.stderr, `shards.sh: shard 1 of ${made} failed (status 3):\nshard one broke\n`);
  },
});
