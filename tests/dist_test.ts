/**
 * `deno task dist`: a fresh build of every target equals the committed
 * lib/manifest.json (zig builds are reproducible, so a stale manifest or a
 * non-reproducible build fails here), the manifest describes the files in
 * dist/, and the Linux libraries need no glibc newer than 2.27; the
 * checkout's own build (`deno task build`, zig-out/) is the release library
 * of this platform, byte for byte: built for the baseline CPU and the same
 * glibc floor, never the build machine's (a checkout built on a new login
 * node must run on older compute nodes).
 *
 * When native/ changed, refresh the manifest with
 * `deno task dist --update-manifest` and commit lib/manifest.json.
 */
import { assertEquals } from "@std/assert";
import { manifestDiff, TARGETS } from "../tools/dist.ts";
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

Deno.test("dist: the checkout's build (deno task build) is this platform's release library, byte for byte", async () => {
  const m = await buildDist();
  const t = m.targets[`${Deno.build.os}-${Deno.build.arch}`];
  const built = await Deno.readFile(`${REPO}/zig-out/lib/libpwalk.${t.file.split(".").pop()}`);
  assertEquals(
    sha256Hex(built),
    t.sha256,
    `zig-out/ differs from dist/${t.file} (${t.zigTarget}, baseline CPU): built for this ` +
      "machine's CPU or glibc, or stale (run `deno task build`)",
  );
});

Deno.test("dist: build.zig's default target for a host is dist's target of that platform", async () => {
  // build.zig writes the triples with the host's arch; dist.ts lists them
  const zig = await Deno.readTextFile(`${REPO}/build.zig`);
  const linux = /\.linux => b\.fmt\("\{s\}(-linux-[^"]+)"/.exec(zig)?.[1];
  const macos = /\.macos => b\.fmt\("\{s\}(-macos[^"]+)"/.exec(zig)?.[1];
  for (const t of TARGETS) {
    assertEquals(`${t.arch}${t.os === "linux" ? linux : macos}`, t.zigTarget);
  }
});

testNeeding([LLVM_OBJDUMP], {
  name: "dist: the Linux libraries, and the checkout's build, need glibc 2.27 at most",
  async fn() {
    const m = await buildDist();
    const files = Object.values(m.targets).filter((t) => t.os === "linux").map((t) =>
      `${REPO}/dist/${t.file}`
    );
    if (Deno.build.os === "linux") files.push(`${REPO}/zig-out/lib/libpwalk.so`);
    for (const file of files) {
      const { text } = await runOk("llvm-objdump", ["-T", file]);
      const versions = [...text.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((x) => [+x[1], +x[2]]);
      const [maj, min] = versions.reduce((
        a,
        b,
      ) => (a[0] * 1000 + a[1] >= b[0] * 1000 + b[1] ? a : b));
      assertEquals(maj * 1000 + min <= 2027, true, `${file} needs GLIBC_${maj}.${min}`);
    }
  },
});
