/**
 * The bench's helpers without benchmarking: bench/shards.sh on a small tree
 * (as many shards as the plan made; a failed shard's own error).
 */
import { assert, assertEquals } from "@std/assert";
import { REPO, run } from "./helpers/run.ts";
import { assertSameLines, unionLines, wholeLines } from "./helpers/shard.ts";
import { PYTHON3, testNeeding, ZSTD } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

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
