/**
 * Where the report goes: the output file (and the journal of a repair)
 * inside the walked tree is never a row of it, under its final name or its
 * temporary one.
 */
import { assertEquals } from "@std/assert";
import { report } from "../mod.ts";
import { parsePwalk } from "./helpers/csv.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("the output file inside the tree is left out of the report", async () => {
  await using tmp = await tempDir("pwalk-out-");
  const root = `${tmp.path}/tree`;
  Deno.mkdirSync(`${root}/sub`, { recursive: true });
  for (let i = 0; i < 50; i++) Deno.writeTextFileSync(`${root}/sub/f${i}`, "x".repeat(i));
  const expected = new Set(["tree", "sub", ...Array.from({ length: 50 }, (_, i) => `f${i}`)]);
  for (const out of [`${root}/scan.csv`, `${root}/sub/scan.csv.zst`]) {
    const s = await report(root, { output: out, threads: 2 });
    const data = out.endsWith(".zst")
      ? (await new Deno.Command("zstd", { args: ["-dc", out], stdout: "piped" }).output()).stdout
      : await Deno.readFile(out);
    const rows = parsePwalk(data).rows;
    const paths = rows.map((r) => new TextDecoder().decode(r.path));
    const names = new Set(paths.map((p) => p.slice(p.lastIndexOf("/") + 1)));
    assertEquals(names, expected, `${out}: rows of the output itself`);
    assertEquals(s.entries, expected.size);
    // The folder holding the output counts only what else it holds.
    const holder = rows[paths.indexOf(out.slice(0, out.lastIndexOf("/")))];
    const others = [...Deno.readDirSync(out.slice(0, out.lastIndexOf("/")))].filter((e) =>
      !out.endsWith(`/${e.name}`)
    );
    assertEquals(holder.fcount, others.length);
    Deno.removeSync(out);
  }
});
