/**
 * A folder swapped for a symbolic link while a report or walk reads the
 * tree must never make pwalk list what the link points to: folders are
 * opened by name inside the folder that listed them (O_NOFOLLOW), and each
 * opened folder is checked to be the device and inode that was listed.
 *
 * A swapper process swaps proj/sub for a link to a decoy folder holding the
 * same names, back and forth, while reports and walks run; not one row or
 * entry may carry a decoy's inode.
 */
import { assert, assertEquals } from "@std/assert";
import { report, walk } from "../mod.ts";
import { parsePwalk } from "./helpers/csv.ts";
import { tempDir } from "./helpers/temp.ts";

const SWAPPER = `
import os, sys
root, decoy, stop = sys.argv[1:]
sub, hold, swap = root + "/sub", root + "/.hold", root + "/.swap"
os.symlink(decoy, swap)
n = 0
while True:
    os.rename(sub, hold); os.rename(swap, sub)
    os.rename(sub, swap); os.rename(hold, sub)
    n += 1
    if n == 1:
        print("started", flush=True)
    if n % 16 == 0 and os.path.exists(stop):
        break
os.unlink(swap)
print(n)
`;

/** The same names in both: sub/f*, sub/deep/g*, sub/deep/deeper/h*. */
function fill(dir: string): void {
  Deno.mkdirSync(`${dir}/deep/deeper`, { recursive: true });
  for (let i = 0; i < 150; i++) Deno.writeTextFileSync(`${dir}/f${i}`, "x");
  for (let i = 0; i < 50; i++) Deno.writeTextFileSync(`${dir}/deep/g${i}`, "y");
  for (let i = 0; i < 50; i++) Deno.writeTextFileSync(`${dir}/deep/deeper/h${i}`, "z");
}

function inodes(dir: string, into = new Set<number>()): Set<number> {
  into.add(Deno.lstatSync(dir).ino!);
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    into.add(Deno.lstatSync(p).ino!);
    if (e.isDirectory) inodes(p, into);
  }
  return into;
}

Deno.test("a folder swapped for a link to a decoy: no report row, no walk entry from the decoy", async () => {
  await using tmp = await tempDir("pwalk-race-");
  const root = `${tmp.path}/proj`;
  const decoy = `${tmp.path}/decoy`;
  fill(`${root}/sub`);
  for (let i = 0; i < 20; i++) fill(`${root}/other${i}`);
  fill(decoy);
  const decoyInodes = inodes(decoy);
  const stop = `${tmp.path}/stop`;
  const swapper = new Deno.Command("python3", {
    args: ["-c", SWAPPER, root, decoy, stop],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // the runs below race with it only once it swaps (a loaded machine may
  // start python late): its first line says so
  const lines = swapper.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  while (!said.includes("\n")) {
    const c = await lines.read();
    if (c.done) break;
    said += c.value;
  }
  assertEquals(said.split("\n")[0], "started", "the swapper did not start");
  let fromDecoy = 0;
  let rows = 0;
  try {
    for (let run = 0; run < 20; run++) {
      const out = `${tmp.path}/scan-${run}.csv`;
      await report(root, { output: out, threads: 2 });
      for (const r of parsePwalk(await Deno.readFile(out)).rows) {
        rows++;
        if (decoyInodes.has(r.ino)) fromDecoy++;
      }
      for await (const e of walk(root, { threads: 2, onError: () => {} })) {
        if (decoyInodes.has(e.ino)) fromDecoy++;
      }
    }
  } finally {
    await Deno.writeTextFile(stop, "");
  }
  const errText = new Response(swapper.stderr).text();
  for (let c = await lines.read(); !c.done; c = await lines.read()) said += c.value;
  const done = await swapper.status;
  assert(done.success, await errText);
  const swaps = Number(said.trim().split("\n").at(-1));
  assert(swaps > 20, `the swapper swapped only ${swaps} times`);
  assert(rows > 20 * 3000, `only ${rows} rows in 20 runs`);
  assertEquals(fromDecoy, 0, "rows or entries came from the decoy folder");
});
