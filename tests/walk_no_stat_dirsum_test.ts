/**
 * walk(), `stat: false`: every entry's dirsum is NaN (WalkEntry.dirsum,
 * WalkOptions.stat), also an entry stat'ed all the same: a followed link
 * (to a file; to a folder at the last level, or back to a folder above
 * it), whose other facts are its target's, as Deno.stat gives them.
 */
import { assert, assertEquals } from "@std/assert";
import { walk } from "../mod.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("walk stat: false, followSymlinks: followed links have their target's facts and a dirsum of NaN, as every entry", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await Deno.mkdir(`${root}/sub`);
  await Deno.writeTextFile(`${root}/sub/g`, "xy");
  await Deno.writeTextFile(`${root}/f`, "hello");
  await Deno.symlink("f", `${root}/to-file`);
  await Deno.symlink("sub", `${root}/to-folder`);
  await Deno.symlink(".", `${root}/self`); // back to ROOT: yielded, not entered
  for (const maxDepth of [1, Infinity]) {
    for (const canonicalize of [true, false]) {
      const seen: string[] = [];
      for await (
        const e of walk(root, { stat: false, followSymlinks: true, canonicalize, maxDepth })
      ) {
        const where = `${e.path} (maxDepth ${maxDepth}, canonicalize ${canonicalize})`;
        assert(Number.isNaN(e.dirsum), `${where}: dirsum ${e.dirsum}, not NaN`);
        if (e.viaLink && e.depth === 0) {
          // the followed link itself: stat'ed, its target's facts
          const st = await Deno.stat(e.path);
          assertEquals([e.size, e.ino, e.mode], [st.size, st.ino, st.mode], where);
          seen.push(e.name);
        }
      }
      // (canonicalize names a link by its target's real path)
      assertEquals(
        seen.sort(),
        canonicalize
          ? [root.split("/").pop()!, "f", "sub"].sort()
          : ["self", "to-file", "to-folder"],
      );
    }
  }
});
