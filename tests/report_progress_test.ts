/**
 * report()'s progress while one big folder is read on a slow file system
 * (bench/slowfs.c waiting on every request, as NFS makes each a round
 * trip): the counts move as the folder is read, not only at its end (each
 * worker publishes its counts every 256 entries and at each folder's end),
 * so a long folder does not look like a hang. One thread: the folder is all
 * the walk does for seconds.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { report } from "../mod.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

const FILES = 1500;

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name: "report progress: the counts move while one big folder of a slow file system is read",
  async fn() {
    await using tmp = await tempDir("pwalk-progress-");
    const served = `${tmp.path}/served`;
    await Deno.mkdir(served);
    for (let i = 0; i < FILES; i++) await Deno.writeFile(`${served}/f${i}`, new Uint8Array(0));
    // every request waits 1 ms: the folder takes 1.5 s and more to read
    await using fs = await mountSlowfs(tmp.path, served, { SLOWFS_DELAY_US: "1000" });
    const seen: number[] = [];
    const s = await report(fs.path, {
      output: `${tmp.path}/out.csv`,
      threads: 1,
      progressIntervalMs: 50,
      onProgress: (p) => void seen.push(p.entries),
    });
    // the reference: the rows written (one per file, and the folder's)
    const rows = (await Deno.readTextFile(`${tmp.path}/out.csv`)).split("\n").filter((l) => l)
      .length;
    assertEquals(rows, FILES + 1);
    assertEquals(s.entries, rows);
    // a count seen well inside the folder: neither before it nor at its end
    const inside = seen.filter((n) => n >= 100 && n <= FILES - 100);
    assert(inside.length > 0, `counts seen: ${[...new Set(seen)].join(", ")}`);
  },
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "report progress: a folder being read whose path is over 1,024 bytes shows as '…' and its tail, no character cut",
  async fn() {
    await using tmp = await tempDir("pwalk-progress-long-");
    const served = `${tmp.path}/served`;
    await Deno.mkdir(served);
    await using fs = await mountSlowfs(tmp.path, served, { SLOWFS_DELAY_US: "1000" });
    // five folders of 80 three-byte characters (past 1,024 bytes), the
    // last ending so that byte 1,024 from the end is inside a character
    const enc = new TextEncoder();
    const names = Array.from({ length: 5 }, () => "€".repeat(80));
    const deep = () => `${fs.path}/${names.join("/")}`;
    const len = () => enc.encode(deep()).length;
    while ((enc.encode(deep())[len() - 1024] & 0xc0) !== 0x80) names[4] += "a";
    await Deno.mkdir(`${served}/${names.join("/")}`, { recursive: true });
    for (let i = 0; i < 400; i++) {
      await Deno.writeFile(`${served}/${names.join("/")}/f${i}`, new Uint8Array(0));
    }
    const seen = new Set<string>();
    await report(fs.path, {
      output: `${tmp.path}/out.csv`,
      threads: 1,
      progressIntervalMs: 50,
      onProgress: (p) => void seen.add(p.current),
    });
    const shown = [...seen].filter((c) => c.startsWith("…"));
    assert(shown.length > 0, `folders shown: ${[...seen].join("\n")}`);
    for (const c of shown) {
      // the tail of the folder's path, from a whole character on
      assert(!c.includes("\uFFFD"), c);
      assert(deep().endsWith(c.slice(1)), c);
      const bytes = enc.encode(c.slice(1)).length;
      assert(bytes <= 1024 && bytes > 1020, `${bytes} bytes`);
    }
    assertStringIncludes(shown[0], names[4]);
  },
});
