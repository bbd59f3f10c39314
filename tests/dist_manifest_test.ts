/**
 * tools/dist.ts manifestDiff, on manifests made here: every field a
 * release depends on is compared (`deno task dist --check` and
 * tests/dist_test.ts rely on it), not only the file, size and checksum.
 */
import { assertEquals } from "@std/assert";
import { manifestDiff } from "../tools/dist.ts";
import { MANIFEST, type Manifest } from "../lib/fetchlib.ts";

const copy = (m: Manifest): Manifest => JSON.parse(JSON.stringify(m));

Deno.test("dist: manifestDiff reports a change of the zig release, os, arch or zig target", () => {
  assertEquals(manifestDiff(MANIFEST, copy(MANIFEST)), []);
  const key = Object.keys(MANIFEST.targets)[0];
  const t = MANIFEST.targets[key];
  const cases: [string, (m: Manifest) => void, string][] = [
    ["zig", (m) => m.zig = "9.9.9", `zig ${MANIFEST.zig} != 9.9.9`],
    ["name", (m) => m.name = "@x/y", `name ${MANIFEST.name} != @x/y`],
    ["os", (m) => m.targets[key].os = "plan9", `${key}: os ${t.os} != plan9`],
    ["arch", (m) => m.targets[key].arch = "mips", `${key}: arch ${t.arch} != mips`],
    [
      "zigTarget",
      (m) => m.targets[key].zigTarget = "x-y-z",
      `${key}: zigTarget ${t.zigTarget} != x-y-z`,
    ],
    ["size", (m) => m.targets[key].size = t.size + 1, `${key}: size ${t.size} != ${t.size + 1}`],
  ];
  for (const [what, change, want] of cases) {
    const b = copy(MANIFEST);
    change(b);
    assertEquals(manifestDiff(MANIFEST, b), [want], what);
  }
});
