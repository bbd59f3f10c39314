/**
 * Times and sizes at the ends of 64 bits in summary and diff. Any 64-bit
 * time is real: on tmpfs any user sets one with utimensat, and pwalk prints
 * it; a FUSE file system's u64 size or block count may read as anything.
 * Ages (now minus a time), st_blocks x 512 and size changes must not
 * overflow: the expected numbers are worked out here in BigInt from the
 * values the rows hold (and, on tmpfs, from python's os.stat of the files).
 */
import { assert, assertEquals } from "@std/assert";
import { AGE_BUCKETS, diff, summarize } from "../mod.ts";
import { lutimes } from "./helpers/libc.ts";
import { cli } from "./helpers/run.ts";
import { PYTHON3, testNeeding } from "./helpers/system.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { python } from "./helpers/tree.ts";

const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;
const NOW = 1_800_000_000n;
const DAY = 86_400n;

/** The age bucket of a time (README: a time in the future counts as age 0). */
function bucket(now: bigint, t: bigint): number {
  const age = now - t;
  let b = 0;
  AGE_BUCKETS.forEach(([, lo], i) => {
    if (age >= BigInt(lo) * DAY) b = i;
  });
  return b;
}

/** A row of pwalk's CSV (no header) of a regular file below the root "E". */
function fileRow(
  inode: number,
  name: string,
  size: bigint,
  blocks: bigint,
  atime: bigint,
  mtime: bigint,
): string {
  return `${inode},1,0,"E/${name}","",0,0,${size},1,${blocks},1,"0100644",` +
    `${atime},${mtime},1,-1,0`;
}
const ROOT_ROW = '1,0,-1,"E","",0,0,4096,1,8,4,"0040755",1,1,1,3,0';

interface File {
  size: bigint;
  blocks: bigint;
  atime: bigint;
  mtime: bigint;
}

/** What the summary must say of `files` as of `now`: files and allocated bytes per age bucket, cold data. */
function expected(files: File[], now: bigint) {
  const ages = (t: (f: File) => bigint) =>
    AGE_BUCKETS.map((_, i) => {
      const inIt = files.filter((f) => bucket(now, t(f)) === i);
      return [inIt.length, Number(inIt.reduce((s, f) => s + f.blocks * 512n, 0n))];
    });
  const cold = files.filter((f) => f.atime <= now - 365n * DAY);
  return {
    mtime: ages((f) => f.mtime),
    atime: ages((f) => f.atime),
    cold: cold.length
      ? [[cold.length, Number(cold.reduce((s, f) => s + f.blocks * 512n, 0n))]]
      : [],
    allocated: Number(files.reduce((s, f) => s + f.blocks * 512n, 8n * 512n)),
  };
}

function got(s: Awaited<ReturnType<typeof summarize>>) {
  return {
    mtime: s.mtimeAges.map((a) => [a.files, a.allocatedBytes]),
    atime: s.atimeAges.map((a) => [a.files, a.allocatedBytes]),
    cold: s.coldByUser.map((u) => [u.files, u.allocatedBytes]),
    allocated: s.totals.allocatedBytes,
  };
}

Deno.test("summary: times of -2^63 and 2^63 - 1, st_blocks x 512 beyond 64 bits", async (t) => {
  await using tmp = await tempDir();
  const files: Record<string, File> = {
    past: { size: 3n, blocks: 8n, atime: MIN, mtime: MIN },
    future: { size: 5n, blocks: 8n, atime: MAX, mtime: MAX },
    huge: { size: MAX, blocks: MAX, atime: NOW - 400n * DAY, mtime: NOW - 400n * DAY },
  };
  const scan = `${tmp.path}/e.csv`;
  await Deno.writeTextFile(
    scan,
    [
      ROOT_ROW,
      ...Object.entries(files).map(([name, f], i) =>
        fileRow(i + 2, name, f.size, f.blocks, f.atime, f.mtime)
      ),
    ].join("\n") + "\n",
  );
  const list = Object.values(files);
  for (const now of [NOW, -5n, 2n ** 53n - 1n, -(2n ** 53n) + 1n]) {
    await t.step(`--now ${now}`, async () => {
      const r = await cli(["summary", "--json", "--now", String(now), scan]);
      assertEquals(r.code, 0, r.stderr); // was: Overflow in subtraction of INT64
      assertEquals(got(JSON.parse(r.text)), expected(list, now));
      const s = await summarize([scan], { now: Number(now), names: false });
      assertEquals(got(s), expected(list, now));
    });
  }
  await t.step("as of the scan's time; text and HTML too", async () => {
    const html = `${tmp.path}/e.html`;
    const r = await cli(["summary", "--html", html, scan]);
    assertEquals(r.code, 0, r.stderr);
    const s = await summarize([scan], { names: false });
    assertEquals(got(s), expected(list, BigInt(s.now)));
    // the far past is in the oldest bucket, the future at age 0
    assertEquals([s.mtimeAges[0].files, s.mtimeAges[5].files], [1, 1]);
  });
});

Deno.test("diff: sizes from -2^63 to 2^63 - 1, blocks beyond 64 bits once x 512", async () => {
  await using tmp = await tempDir();
  const old = `${tmp.path}/old.csv`, now = `${tmp.path}/new.csv`;
  const row = (size: bigint, blocks: bigint) => fileRow(2, "f", size, blocks, 1n, 1n);
  await Deno.writeTextFile(old, `${ROOT_ROW}\n${row(MIN, 0n)}\n`);
  await Deno.writeTextFile(now, `${ROOT_ROW}\n${row(MAX, MAX)}\n`);
  for (const [a, b, sign] of [[old, now, 1n], [now, old, -1n]] as const) {
    const r = await cli(["diff", "--html", `${tmp.path}/d.html`, a, b]);
    assertEquals(r.code, 0, r.stderr); // was: Overflow in subtraction of INT64
    const d = await diff([a], [b], { names: false });
    const change = {
      entries: 1,
      apparentBytes: Number(sign * (MAX - MIN)),
      allocatedBytes: Number(sign * MAX * 512n),
    };
    assertEquals(sign > 0 ? d.totals.grown : d.totals.shrunk, change);
    assertEquals(d.totals.changed.entries, 1);
    assertEquals(d.changedFiles.map((f) => [f.path, f.oldSize, f.newSize]), [[
      "E/f",
      Number(sign > 0 ? MIN : MAX),
      Number(sign > 0 ? MAX : MIN),
    ]]);
  }
});

testNeeding([PYTHON3], {
  name:
    "summary: a tmpfs file's times set to -2^63 and 2^63 - 1 (any user can), as python stats them",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/t`;
    await Deno.mkdir(root);
    assertEquals(await mountTmpfs(root, "size=1m"), "");
    for (const [name, time] of [["past", MIN], ["future", MAX], ["now", NOW]] as const) {
      await Deno.writeTextFile(`${root}/${name}`, "x".repeat(5000));
      lutimes(`${root}/${name}`, time, time);
    }
    const scan = `${tmp.path}/scan.csv`;
    assertEquals((await cli(["-o", scan, root])).code, 0);
    // the reference: what the kernel stored, as python's os.stat reads it
    const ref: File[] = JSON.parse(
      await python(
        "import os, sys, json; d = sys.argv[1]; print(json.dumps([[str(s.st_blocks), " +
          "str(s.st_atime_ns // 10**9), str(s.st_mtime_ns // 10**9)] for s in " +
          "(os.lstat(os.path.join(d, n)) for n in sorted(os.listdir(d)))]))",
        root,
      ),
    ).map(([b, a, m]: string[]) => ({
      size: 0n,
      blocks: BigInt(b),
      atime: BigInt(a),
      mtime: BigInt(m),
    }));
    assertEquals(ref.map((f) => f.mtime).sort(), [MIN, MAX, NOW].sort());
    const s = await summarize([scan], { now: Number(NOW), names: false });
    const want = expected(ref, NOW);
    const g = got(s);
    assertEquals([g.mtime, g.atime, g.cold], [want.mtime, want.atime, want.cold]);
  },
});

/**
 * The UTC date of `t` seconds, the reference: JavaScript's Date, moved by
 * whole 400-year Gregorian cycles (146097 days) into its range when `t` is
 * past it; a year outside 0000-9999 signed, of six digits at least.
 */
function refDate(t: bigint): string {
  const cycle = 146_097n * DAY, range = 8_000_000_000_000n;
  let k = 0n;
  if (t > range || t < -range) k = t / cycle;
  const iso = new Date(Number(t - k * cycle) * 1000).toISOString();
  const [, sign, y, md] = iso.match(/^([+-]?)(\d+)(-\d\d-\d\d)T/)!;
  const year = BigInt(sign === "-" ? `-${y}` : y) + 400n * k;
  const text = year >= 0n && year <= 9999n
    ? String(year).padStart(4, "0")
    : (year < 0n ? "-" : "+") + String(year < 0n ? -year : year).padStart(6, "0");
  return text + md;
}

Deno.test("summary and diff: dates of times outside years 0-9999 whole (sign, six digits), past JavaScript's Date too", async () => {
  await using tmp = await tempDir();
  // 8e12 s: year 255479; -1e11 s: year -1199; -2^63 (a double exactly);
  // 2^63 - 1 reads as the nearest double, 2^63 (README: numbers are doubles)
  const far = 8_000_000_000_000n, early = -99_999_999_999n;
  const scan = `${tmp.path}/s.csv`;
  await Deno.writeTextFile(
    scan,
    [ROOT_ROW, fileRow(2, "a", 9000n, 24n, early, far), fileRow(3, "b", 5000n, 16n, MAX, MIN)]
      .join("\n") + "\n",
  );
  const dates = [far, early, MIN, 2n ** 63n].map(refDate);
  for (const d of dates) assertEquals(d.slice(-6, -5), "-", d); // a whole date, day included
  const env = { COLUMNS: "1000" };
  const s = await cli(["summary", "--no-names", scan], { env });
  assertEquals(s.code, 0, s.stderr);
  const shown = (text: string, d: string) => new RegExp(`(^|\\s)\\${d}(\\s|$)`, "m").test(text);
  for (const d of dates) assert(shown(s.text, d), `summary shows ${d}:\n${s.text}`);
  // diff: b's mtime from -2^63 to 8e12 s
  const now = `${tmp.path}/n.csv`;
  await Deno.writeTextFile(
    now,
    [ROOT_ROW, fileRow(2, "a", 9000n, 24n, early, far), fileRow(3, "b", 5000n, 16n, MAX, far)]
      .join("\n") + "\n",
  );
  const html = `${tmp.path}/d.html`;
  const d = await cli(["diff", "--no-names", "--html", html, scan, now], { env });
  assertEquals(d.code, 0, d.stderr);
  const line = d.text.split("\n").find((l) => l.includes("E/b"));
  assert(line && shown(line, refDate(MIN)) && shown(line, refDate(far)), d.text);
  assert(!d.text.includes("922337203685477"), "no time printed as a number");
  const page = await Deno.readTextFile(html);
  assert(page.includes(`>${refDate(MIN)}<`) && page.includes(`>${refDate(far)}<`));
});
