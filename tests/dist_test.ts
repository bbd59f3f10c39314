/**
 * `deno task dist`: a fresh build of every target equals the committed
 * lib/manifest.json (zig builds are reproducible, so a stale manifest or a
 * non-reproducible build fails here), the manifest describes the files in
 * dist/, and the Linux libraries need no glibc newer than 2.27.
 *
 * When native/ changed, refresh the manifest with
 * `deno task dist --update-manifest` and commit lib/manifest.json.
 */
import { assertEquals } from "@std/assert";
import { manifestDiff } from "../tools/dist.ts";
import { sha256Hex } from "../lib/fetchlib.ts";
import denoJson from "../deno.json" with { type: "json" };
import { REPO, runOk } from "./helpers/run.ts";
import { buildDist, committedManifest } from "./helpers/ship.ts";
import { LLVM_OBJDUMP, testNeeding } from "./helpers/system.ts";

Deno.test("dist: a fresh build of every target matches the committed manifest", async () => {
  const fresh = await buildDist();
  const committed = await committedManifest();
  assertEquals(
    manifestDiff(committed, fresh),
    [],
    "lib/manifest.json is stale: run `deno task dist --update-manifest` and commit it",
  );
  assertEquals(committed.version, denoJson.version);
  assertEquals(Object.keys(committed.targets).sort(), [
    "darwin-aarch64",
    "darwin-x86_64",
    "linux-aarch64",
    "linux-x86_64",
  ]);
});

Deno.test("dist: dist/manifest.json describes the files in dist/", async () => {
  const m = await buildDist();
  for (const [key, t] of Object.entries(m.targets)) {
    assertEquals(key, `${t.os}-${t.arch}`);
    const bytes = await Deno.readFile(`${REPO}/dist/${t.file}`);
    assertEquals(bytes.length, t.size, t.file);
    assertEquals(sha256Hex(bytes), t.sha256, t.file);
  }
});

testNeeding([LLVM_OBJDUMP], {
  name: "dist: the Linux libraries need glibc 2.27 at most",
  async fn() {
    const m = await buildDist();
    for (const t of Object.values(m.targets).filter((t) => t.os === "linux")) {
      const { text } = await runOk("llvm-objdump", ["-T", `${REPO}/dist/${t.file}`]);
      const versions = [...text.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((x) => [+x[1], +x[2]]);
      const [maj, min] = versions.reduce((
        a,
        b,
      ) => (a[0] * 1000 + a[1] >= b[0] * 1000 + b[1] ? a : b));
      assertEquals(maj * 1000 + min <= 2027, true, `${t.file} needs GLIBC_${maj}.${min}`);
    }
  },
});
