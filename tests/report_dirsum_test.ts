/**
 * pw_dirsum past 2^63: a signed 64-bit sum that wraps, as C pwalk's does
 * and as docs/csv-format.md says (sparse files on a tmpfs, the reference
 * computed with BigInt from Deno.lstat).
 */
import { assert, assertEquals } from "@std/assert";
import { report } from "../mod.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";

Deno.test({
  name: "report(): pw_dirsum wraps as a signed 64-bit sum when the children's sizes pass 2^63",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-dirsum-");
    const root = `${tmp.path}/t`;
    await Deno.mkdir(root);
    assertEquals(await mountTmpfs(root, "size=1m"), "");
    // sizes a float64 holds exactly (Deno.lstat's size is a number)
    const big = ["a", "b"].map((f) => `${root}/${f}`);
    const t = await new Deno.Command("truncate", { args: ["-s", `${3n * 2n ** 61n}`, ...big] })
      .output();
    assert(t.success, new TextDecoder().decode(t.stderr));
    await Deno.writeTextFile(`${root}/small`, "12345");
    let sum = 0n;
    for await (const e of Deno.readDir(root)) {
      const size = Deno.lstatSync(`${root}/${e.name}`).size;
      sum += BigInt(size);
    }
    assert(sum >= 2n ** 63n, `${sum}`);
    const out = `${tmp.path}/out.csv`;
    await report(root, { output: out });
    // the root's row: the one whose first field is its inode
    const ino = String(Deno.lstatSync(root).ino);
    const row = (await Deno.readTextFile(out)).split("\n").find((l) => l.startsWith(`${ino},`));
    if (!row) throw new Error(`no row of ${root}`);
    assertEquals(row.split(",").at(-1), String(BigInt.asIntN(64, sum)));
  },
});
