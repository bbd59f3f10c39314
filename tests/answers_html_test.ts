/**
 * `pwalk summary --html` and `pwalk diff --html` in a real browser: headless
 * Chromium (Debian's `chromium`, installed by .ci/run) loads the page from
 * a file with the network off, `--dump-dom` must show the SVG charts, and
 * every number of the users, groups and totals tables must equal the
 * `--json` output of the same run; a screenshot must hold the charts'
 * colours (the PNG is decoded here: zlib through DecompressionStream, PNG
 * row filters undone).
 */
import { assert, assertEquals } from "@std/assert";
import { answersTree } from "./helpers/answers_tree.ts";
import { cli } from "./helpers/run.ts";
import { CHROMIUM, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { concat } from "./helpers/bytes.ts";

const NOW = 1_800_000_000;

async function chromium(args: string[], profile: string): Promise<string> {
  const r = await new Deno.Command("chromium", {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  assert(r.success, new TextDecoder().decode(r.stderr));
  return new TextDecoder().decode(r.stdout);
}

/** The data-v values of each row of table section `id` in a DOM dump. */
function tableValues(dom: string, id: string): string[][] {
  const sec = dom.match(new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`));
  assert(sec, `section ${id} in the page`);
  const body = sec![1].slice(sec![1].indexOf("<tbody>"));
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) =>
    [...m[1].matchAll(/data-v="([^"]*)"/g)].map((v) => v[1])
  );
}

/** RGB pixels of a PNG (8-bit RGB or RGBA, not interlaced). */
async function pngPixels(png: Uint8Array): Promise<{ w: number; h: number; rgb: Uint8Array }> {
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let o = 8, w = 0, h = 0, ch = 0;
  const idat: Uint8Array[] = [];
  while (o < png.length) {
    const len = dv.getUint32(o);
    const type = new TextDecoder().decode(png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    if (type === "IHDR") {
      w = dv.getUint32(o + 8);
      h = dv.getUint32(o + 12);
      assertEquals([data[8], data[12]], [8, 0], "8-bit, not interlaced");
      ch = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      assert(ch, `colour type ${data[9]}`);
    }
    if (type === "IDAT") idat.push(data);
    o += 12 + len;
  }
  const z = new Blob(idat as BlobPart[]).stream().pipeThrough(new DecompressionStream("deflate"));
  const raw = new Uint8Array(await new Response(z).arrayBuffer());
  const stride = w * ch;
  const out = new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const up = y ? out.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= ch ? row[x - ch] : 0, b = up[x], c = x >= ch ? up[x - ch] : 0;
      let p = 0;
      if (f === 1) p = a;
      else if (f === 2) p = b;
      else if (f === 3) p = (a + b) >> 1;
      else if (f === 4) {
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[x] = (src[x] + p) & 255;
    }
  }
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) rgb.set(out.subarray(i * ch, i * ch + 3), i * 3);
  return { w, h, rgb };
}

testNeeding([CHROMIUM], {
  name: "summary --html in Chromium: SVG charts drawn, the tables' numbers equal --json",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    await answersTree(root, {
      seed: 3,
      files: 300,
      uids: [0, 1001, 1002],
      gids: [0, 2001],
      now: NOW,
    });
    const scan = `${tmp.path}/scan.csv.zst`;
    assertEquals((await cli(["-o", scan, root])).code, 0);
    const page = `${tmp.path}/page.html`;
    const r = await cli([
      "summary",
      "--json",
      "--html",
      page,
      "--now",
      String(NOW),
      "--top",
      "50",
      scan,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const json = JSON.parse(new TextDecoder().decode(r.stdout));
    const html = await Deno.readTextFile(page);
    assert(
      !/https?:\/\//.test(html.replace(/xmlns(:xlink)?="http:\/\/www\.w3\.org\/[^"]*"/g, "")),
      "no network reference",
    );
    assert(!/<script(?! type="application\/json")/.test(html), "no script to run");

    const dom = await chromium(["--dump-dom", `file://${page}`], `${tmp.path}/profile1`);
    for (
      const id of [
        "chart-folders",
        "chart-users",
        "chart-groups",
        "chart-extensions",
        "chart-sizes",
        "chart-mtime",
        "chart-atime",
      ]
    ) {
      const sec = dom.match(new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`));
      assert(sec && /<svg[\s\S]*<path/.test(sec[1]), `${id}: an SVG chart with shapes`);
    }
    // the treemap names the root, the users chart each user
    assert(dom.includes(root), "the treemap labels the root");
    // ids are names, not quantities: 1001, never "1,001"
    const users = dom.match(/<section id="users">([\s\S]*?)<\/section>/)![1];
    assert(users.includes(">1001<") && !users.includes("1,001"), "uids without digit groups");
    assertEquals(
      tableValues(dom, "users").map((v) => v.map(Number)),
      json.users.map((
        u: Record<string, number>,
      ) => [u.id, u.allocatedBytes, u.apparentBytes, u.entries, u.files]),
    );
    assertEquals(
      tableValues(dom, "groups").map((v) => v.map(Number)),
      json.groups.map((
        u: Record<string, number>,
      ) => [u.id, u.allocatedBytes, u.apparentBytes, u.entries, u.files]),
    );
    const t = json.totals;
    assertEquals(tableValues(dom, "totals-table").map((v) => v.map(Number)), [[
      t.entries,
      t.files,
      t.folders,
      t.links,
      t.other,
      t.allocatedBytes,
      t.apparentBytes,
      json.userCount,
      json.groupCount,
    ]]);
    assertEquals(
      tableValues(dom, "folders").map((v) => v.map(Number)),
      json.folders.map((
        f: Record<string, number>,
      ) => [f.level, f.allocatedBytes, f.apparentBytes, f.entries, f.files]),
    );

    const shot = `${tmp.path}/shot.png`;
    await chromium(
      ["--window-size=1200,1400", `--screenshot=${shot}`, `file://${page}`],
      `${tmp.path}/profile2`,
    );
    const { w, h, rgb } = await pngPixels(await Deno.readFile(shot));
    assertEquals([w, h], [1200, 1400]);
    // ECharts' first palette colour (#5470c6 and the treemap's shades of it) fills the charts
    let blue = 0, nonWhite = 0;
    for (let i = 0; i < w * h; i++) {
      const [R, G, B] = [rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]];
      if (R < 245 || G < 245 || B < 245) nonWhite++;
      if (B > 150 && B - R > 60 && B - G > 40) blue++;
    }
    assert(nonWhite > 20_000, `non-white pixels: ${nonWhite}`);
    assert(blue > 5_000, `chart-coloured pixels: ${blue}`);
  },
});

testNeeding([CHROMIUM], {
  name: "diff --html in Chromium: charts drawn, per-user net equals --json",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    await answersTree(root, { seed: 4, files: 120, uids: [0, 1001], gids: [0], now: NOW });
    await Deno.writeFile(`${root}/moved.bin`, new Uint8Array(200_000).fill(7));
    assertEquals((await cli(["-o", `${tmp.path}/a.csv`, root])).code, 0);
    await Deno.writeFile(`${root}/new.bin`, new Uint8Array(300_000));
    await Deno.chown(`${root}/new.bin`, 1001, 0);
    await Deno.chown(`${root}/moved.bin`, 1001, 0); // given away: no other change
    assertEquals((await cli(["-o", `${tmp.path}/b.csv`, root])).code, 0);
    const page = `${tmp.path}/diff.html`;
    const r = await cli([
      "diff",
      "--json",
      "--html",
      page,
      `${tmp.path}/a.csv`,
      `${tmp.path}/b.csv`,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const json = JSON.parse(new TextDecoder().decode(r.stdout));
    const dom = await chromium(["--dump-dom", `file://${page}`], `${tmp.path}/profile`);
    for (const id of ["chart-users", "chart-groups", "chart-folders"]) {
      const sec = dom.match(new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`));
      // (no folder at --depth changed: the root's own files are in none)
      if (id === "chart-folders" && json.folders.length === 0) {
        assert(sec && sec[1].includes("(no changes)") && !sec[1].includes("<svg"), id);
        continue;
      }
      assert(sec && /<svg[\s\S]*<path/.test(sec[1]), `${id}: an SVG chart`);
      // the chown shows as a bar of its own where it moved bytes: between users only
      assertEquals(
        sec![1].includes("owner, group or allocation changed"),
        id === "chart-users",
        `${id}: the ownership bar`,
      );
    }
    assertEquals(
      tableValues(dom, "users").map((v) => Number(v[0])),
      json.users.map((u: { net: { allocatedBytes: number } }) => u.net.allocatedBytes),
    );
    assert(
      json.users.some((u: { id: number; net: { apparentBytes: number } }) =>
        u.id === 1001 && u.net.apparentBytes >= 300_000
      ),
    );
  },
});

testNeeding([CHROMIUM], {
  name: "summary and diff --html in Chromium: bidi and C1 controls in names shown as escapes",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/t`;
    // "rtl" + RIGHT-TO-LEFT OVERRIDE + "exe.txt" displays as "rtltxt.exe";
    // a C1 control (CSI), the marks RLM and ALM, an isolate
    // (and a real backslash before "u202e": not to read as the escape)
    const names = ["rtl\u202eexe.txt", "c1\u009bx", "m\u200f\u061cz", "i\u2067q", "b\\u202ez"];
    const shown = [
      "rtl\\u202eexe.txt",
      "c1\\xc2\\x9bx",
      "m\\u200f\\u061cz",
      "i\\u2067q",
      "b\\\\u202ez",
    ];
    await Deno.mkdir(root);
    await Deno.writeTextFile(`${root}/plain`, "x");
    const old = `${tmp.path}/old.csv`;
    assertEquals((await cli(["-o", old, root])).code, 0);
    for (const [i, n] of names.entries()) {
      await Deno.mkdir(`${root}/${n}`);
      await Deno.writeFile(
        `${root}/${n}/${n}`,
        new Uint8Array(i < 4 ? 100_000 * (i + 1) : 50_000).fill(1),
      );
    }
    const scan = `${tmp.path}/new.csv`;
    assertEquals((await cli(["-o", scan, root])).code, 0);
    const raw = /[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
    for (
      const [args, charts] of [
        [["summary", "--depth", "2", scan], ["chart-folders"]],
        [["diff", old, scan], ["chart-folders"]],
      ] as const
    ) {
      const page = `${tmp.path}/${args[0]}.html`;
      const r = await cli([args[0], "--html", page, ...args.slice(1)]);
      assertEquals(r.code, 0, r.stderr);
      const dom = await chromium(["--dump-dom", `file://${page}`], `${tmp.path}/p-${args[0]}`);
      // what the page shows: the DOM without the embedded JSON (data, not shown)
      const text = dom.replace(/<script type="application\/json"[\s\S]*?<\/script>/, "");
      assert(!raw.test(text), `${args[0]}: a raw control in the page: ${text.match(raw)}`);
      for (const s of shown) assert(text.includes(s), `${args[0]}: ${s} shown`);
      for (const id of charts) {
        const sec = text.match(new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`))![1];
        assert(sec.includes(shown[0]), `${args[0]} ${id}: the chart labels the name escaped`);
      }
      // the JSON keeps the names as they are
      assert(dom.includes(names[0]));
    }
  },
});

/** The Totals list of a DOM dump: each dt's text to its dd's data-v (or text without one). */
function totalsList(dom: string): Map<string, string> {
  const sec = dom.match(/<section id="totals">([\s\S]*?)<\/section>/);
  assert(sec, "section totals in the page");
  return new Map(
    [...sec![1].matchAll(/<dt>([^<]*)<\/dt>\s*<dd(?: data-v="([^"]*)")?>([^<]*)<\/dd>/g)]
      .map((m) => [m[1], m[2] ?? m[3]]),
  );
}

testNeeding([CHROMIUM], {
  name:
    "summary --html in Chromium: Totals hold hard links, names not UTF-8, errors and the warning",
  async fn(t) {
    await using tmp = await tempDir();
    // a scan with one hard link's extra name (inode 10 twice), one name not
    // UTF-8 (a byte 0xff), the folder inode 3 under two paths; the shard
    // completion record beside it says 3 errors
    const T = 1_700_000_000;
    const row = (
      ino: number,
      parent: number,
      depth: number,
      name: string | Uint8Array,
      rest: string,
    ) => concat(`${ino},${parent},${depth},"`, name, `",${rest},${T},${T},${T}`);
    const dir = (ino: number, depth: number, name: string, count: number) =>
      concat(row(ino, 2, depth, name, `"",0,0,4096,1,8,2,"0040755"`), `,${count},0\n`);
    const file = (ino: number, name: string | Uint8Array, nlink: number) =>
      concat(row(ino, 3, 1, name, `"",1001,1001,5000,1,16,${nlink},"0100644"`), ",-1,0\n");
    const lines = {
      root: concat(row(2, 0, -1, "/r", `"",0,0,4096,1,8,4,"0040755"`), ",2,0\n"),
      a: dir(3, 0, "/r/a", 3),
      b: dir(3, 0, "/r/b", 3), // the same folder again
      h1: file(10, "/r/a/h1", 2),
      h2: file(10, "/r/a/h2", 2),
      bad: file(11, concat("/r/a/x", new Uint8Array([0xff]), ".bin"), 1),
    };
    const scan = `${tmp.path}/scan.csv`;
    const cases = [
      { name: "all of them", twice: true, errors: 3 },
      { name: "no errors recorded, no folder under two paths", twice: false, errors: null },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const { b, ...rest } = lines;
        await Deno.writeFile(scan, concat(...Object.values(c.twice ? { ...rest, b } : rest)));
        const record = scan.replace(/\.csv$/, ".done.json");
        await Deno.remove(record).catch(() => {});
        if (c.errors !== null) {
          await Deno.writeTextFile(
            record,
            JSON.stringify({
              format: "pwalk-shard-done",
              errors: c.errors,
              output: scan,
              outputBytes: (await Deno.stat(scan)).size,
            }),
          );
        }
        const page = `${tmp.path}/page.html`;
        const r = await cli(["summary", "--json", "--html", page, "--no-names", scan]);
        assertEquals(r.code, 0, r.stderr);
        const json = JSON.parse(r.text).totals;
        const text = await cli(["summary", "--no-names", scan], { env: { COLUMNS: "1000" } });
        assertEquals(text.code, 0, text.stderr);
        const dom = await chromium(["--dump-dom", `file://${page}`], `${tmp.path}/p-${c.errors}`);
        const list = totalsList(dom);
        // the rows written above, and --json's numbers
        const want = [1, 1, c.errors ?? "not recorded in a scan", c.twice ? 1 : 0];
        assertEquals(
          [json.hardLinkNames, json.nonUtf8Names, json.errors ?? "not recorded in a scan"],
          want.slice(0, 3),
        );
        assertEquals(json.foldersSeenTwice, want[3]);
        assertEquals(
          [list.get("hard links"), list.get("names not UTF-8"), list.get("errors")],
          want.slice(0, 3).map(String),
        );
        const warning = dom.match(/<p class="warning" data-v="(\d+)">([^<]*)<\/p>/);
        const textWarning = text.text.split("\n").find((l) => l.startsWith("warning: "));
        if (c.twice) {
          assert(warning, "a warning in the page");
          assertEquals(Number(warning![1]), 1);
          // as the text prints it (the page escapes the quote)
          assertEquals(warning![2].replaceAll("&#39;", "'"), textWarning);
        } else {
          assertEquals([warning, textWarning], [null, undefined]);
        }
      });
    }
  },
});

Deno.test("summary and diff --html: the second run prints no npm Download line (ECharts' registry entry cached)", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/t`);
  await Deno.writeFile(`${tmp.path}/t/f`, new Uint8Array(5000).fill(1));
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["--header", "-o", scan, `${tmp.path}/t`])).code, 0);
  // a change for diff to draw (a diff of nothing changed has no chart)
  await Deno.writeFile(`${tmp.path}/t/g`, new Uint8Array(9000).fill(2));
  const scan2 = `${tmp.path}/s2.csv`;
  assertEquals((await cli(["--header", "-o", scan2, `${tmp.path}/t`])).code, 0);
  // Deno's npm cache as it is but for ECharts' registry entry: the package
  // from the lockfile, not its packument (as a cache is after a run that
  // drew no page, or after the runs of pwalk before this fix). Hard links
  // (a copy across file systems): Deno takes a symlink's target for a path
  // outside its cache.
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const real = JSON.parse(new TextDecoder().decode(info.stdout)).npmCache as string;
  const download = /Download\S* https:\/\/registry\.npmjs\.org\/echarts$/m;
  for (const args of [["summary", scan], ["diff", scan, scan2]]) {
    const dir = `${tmp.path}/deno-${args[0]}`;
    await Deno.mkdir(dir);
    if (await Deno.stat(real).then(() => true, () => false)) {
      const cp = (flags: string) =>
        new Deno.Command("cp", { args: [flags, real, `${dir}/npm`], stderr: "null" }).output();
      if (!(await cp("-al")).success) {
        await Deno.remove(`${dir}/npm`, { recursive: true }).catch(() => {});
        assert((await cp("-a")).success, "npm cache copied");
      }
      await Deno.remove(`${dir}/npm/registry.npmjs.org/echarts/registry.json`).catch(() => {});
    }
    const run = async (n: number) => {
      const r = await cli([args[0], "--html", `${tmp.path}/${n}.html`, ...args.slice(1)], {
        env: { DENO_DIR: dir },
      });
      assertEquals(r.code, 0, r.stderr);
      assert((await Deno.readTextFile(`${tmp.path}/${n}.html`)).includes("<svg"), "charts drawn");
      return r.stderr;
    };
    const first = await run(1);
    assert(download.test(first), `${args[0]}: the first run fetched it:\n${first}`);
    const second = await run(2);
    assert(!/Download/.test(second), `${args[0]}: the second run:\n${second}`);
  }
});

/** The boxes of an ECharts SVG section: x, y, width, height of each rectangle path. */
function svgBoxes(svg: string): { x: number; y: number; w: number; h: number }[] {
  return [
    ...svg.matchAll(
      /<path d="M0 0l([\d.]+) 0l0 ([\d.]+)l-[\d.]+ 0Z" transform="translate\(([\d.]+) ([\d.]+)\)"/g,
    ),
  ].map((m) => ({ w: Number(m[1]), h: Number(m[2]), x: Number(m[3]), y: Number(m[4]) }));
}

/** The labels of an ECharts SVG section: text and position (y offset included). */
function svgLabels(svg: string): { text: string; x: number; y: number }[] {
  return [
    ...svg.matchAll(
      /<text [^>]*?(?:y="(-?[\d.]+)" )?transform="translate\(([\d.]+) ([\d.]+)\)"[^>]*>([^<]*)<\/text>/g,
    ),
  ].map((m) => ({ text: m[4], x: Number(m[2]), y: Number(m[3]) + Number(m[1] ?? 0) }));
}

Deno.test("summary --html: the treemap gives each folder its share of its parent's box (a folder's own files keep theirs)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  // a: 300 KB of its own beside b (20 KB) and c (150 KB); d holds e (level
  // 2, files below it); x: files of the root itself
  const files: [string, number][] = [
    ["a/big", 300_000],
    ["a/b/f", 20_000],
    ["a/c/g", 150_000],
    ["d/e/deep/h", 120_000],
    ["d/k", 60_000],
    ["x", 250_000],
  ];
  for (const [p, n] of files) {
    await Deno.mkdir(`${root}/${p}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeFile(`${root}/${p}`, new Uint8Array(n).fill(7));
  }
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  const page = `${tmp.path}/s.html`;
  const r = await cli(["summary", "--no-names", "--depth", "2", "--html", page, scan]);
  assertEquals(r.code, 0, r.stderr);
  // each folder's allocated bytes, recursive, from Deno.lstat
  const alloc = async (p: string): Promise<number> => {
    const st = await Deno.lstat(p);
    let n = (st.blocks ?? 0) * 512;
    if (st.isDirectory) {
      for await (const e of Deno.readDir(p)) {
        n += await alloc(`${p}/${e.name}`);
      }
    }
    return n;
  };
  assert((await alloc(root)) > 0, "a file system that allocates blocks");
  const html = await Deno.readTextFile(page);
  const svg = html.match(/<section id="chart-folders">([\s\S]*?)<\/section>/)![1];
  const boxes = svgBoxes(svg);
  const labels = svgLabels(svg);
  // a folder's box: the smallest box that holds its name's label
  const boxOf = (name: string) => {
    const l = labels.find((l) => l.text === name);
    assert(l, `a label ${name} in the treemap`);
    const inside = boxes.filter((b) =>
      l!.x >= b.x - 0.5 && l!.x <= b.x + b.w + 0.5 && l!.y >= b.y - 0.5 && l!.y <= b.y + b.h + 0.5
    );
    return inside.reduce((a, b) => a.w * a.h <= b.w * b.h ? a : b);
  };
  const area = (name: string) => {
    const b = boxOf(name);
    return b.w * b.h;
  };
  for (
    const [parent, child] of [
      [root, "a"],
      [root, "d"],
      ["a", "b"],
      ["a", "c"],
      ["d", "e"],
    ]
  ) {
    const pp = parent === root ? root : `${root}/${parent}`;
    const cp = `${root}/${
      child === "b" || child === "c" ? "a/" : child === "e" ? "d/" : ""
    }${child}`;
    const want = (await alloc(cp)) / (await alloc(pp));
    const got = area(child) / area(parent);
    // a parent's box holds its label band and gaps besides its children
    assert(
      got > want * 0.8 && got < want * 1.02,
      `${child} in ${parent}: ${got.toFixed(3)} of the box for ${want.toFixed(3)} of the bytes`,
    );
  }
});

Deno.test("summary --html: the age charts stack the users past --top as one layer, each bar its bucket's total", async () => {
  await using tmp = await tempDir();
  // uid 1001 is the top user; 1002 and 1003 have files 10 and 400 days old,
  // alone in the 1-2 years bucket
  const N = 1_800_000_000, D = 86_400;
  const files = [
    { uid: 1001, blocks: 600, age: 10 },
    { uid: 1002, blocks: 200, age: 10 },
    { uid: 1002, blocks: 400, age: 400 },
    { uid: 1003, blocks: 100, age: 400 },
  ];
  const scan = `${tmp.path}/ages.csv`;
  await Deno.writeTextFile(
    scan,
    `2,0,-1,"/r","",0,0,4096,1,8,2,"0040755",${N},${N},${N},${files.length},4096\n` +
      files.map((f, i) => {
        const t = N - f.age * D;
        return `${10 + i},2,0,"/r/f${i}","",${f.uid},${f.uid},${f.blocks * 500},1,${f.blocks},1,` +
          `"0100644",${t},${t},${N},-1,0\n`;
      }).join(""),
  );
  const page = `${tmp.path}/ages.html`;
  const r = await cli([
    "summary",
    "--no-names",
    "--top",
    "1",
    "--now",
    String(N),
    "--html",
    page,
    scan,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const html = await Deno.readTextFile(page);
  for (const id of ["mtime", "atime"]) {
    // the table's buckets, and the rows' own (allocated: st_blocks x 512)
    const table = tableValues(html, id).map((v) => Number(v[0]));
    const want = [0, 30, 182, 365, 730, 1826].map((lo, i, a) =>
      files.filter((f) => f.age >= lo && (i === a.length - 1 || f.age < a[i + 1]))
        .reduce((n, f) => n + f.blocks * 512, 0)
    );
    assertEquals(table, want, `${id}: the table`);
    const svg = html.match(new RegExp(`<section id="chart-${id}">([\\s\\S]*?)</section>`))![1];
    // each bar: its left edge (the bucket) and its height
    const heights = new Map<number, number>();
    for (
      const m of svg.matchAll(
        /<path d="M([\d.]+) [\d.]+l[\d.]+ 0l0 -?([\d.]+)l-[\d.]+ 0Z"[^>]*ecmeta_ssr_type="chart"/g,
      )
    ) heights.set(Number(m[1]), (heights.get(Number(m[1])) ?? 0) + Number(m[2]));
    const stacks = [...heights.entries()].sort((a, b) => a[0] - b[0]).map(([, h]) => h);
    assertEquals(stacks.length, want.length, `${id}: a stack per bucket`);
    const scale = stacks.reduce((a, b) => a + b) / want.reduce((a, b) => a + b);
    for (const [i, h] of stacks.entries()) {
      assert(
        Math.abs(h - want[i] * scale) <= 1,
        `${id} bucket ${i}: a stack ${h} px high for ${want[i] * scale} px of bytes`,
      );
    }
    assert(svg.includes("(other users)"), `${id}: the layer is named`);
  }
});

Deno.test("summary --html: a root without subfolders is a filled box of the treemap (was blank: the roots' level has no colour)", async () => {
  await using tmp = await tempDir();
  // two SCANs: a root with files and no subfolder, and an empty folder (one row)
  const flat = `${tmp.path}/flat`, empty = `${tmp.path}/empty`;
  await Deno.mkdir(flat);
  await Deno.mkdir(empty);
  await Deno.writeFile(`${flat}/f1`, new Uint8Array(30_000).fill(1));
  await Deno.writeFile(`${flat}/f2`, new Uint8Array(20_000).fill(2));
  const scans = [];
  for (const root of [flat, empty]) {
    const scan = `${root}.csv`;
    assertEquals((await cli(["--header", "-o", scan, root])).code, 0);
    scans.push(scan);
  }
  for (const s of [[scans[0]], [scans[1]], scans]) {
    const page = `${tmp.path}/p.html`;
    const r = await cli(["summary", "--no-names", "--html", page, ...s]);
    assertEquals(r.code, 0, r.stderr);
    const html = await Deno.readTextFile(page);
    const svg = html.match(/<section id="chart-folders">([\s\S]*?)<\/section>/)![1];
    // each rectangle with its fill
    const boxes = [
      ...svg.matchAll(
        /<path d="M0 0l([\d.]+) 0l0 ([\d.]+)l-[\d.]+ 0Z" transform="translate\(([\d.]+) ([\d.]+)\)" fill="([^"]+)"/g,
      ),
    ].map((m) => ({
      w: Number(m[1]),
      h: Number(m[2]),
      x: Number(m[3]),
      y: Number(m[4]),
      fill: m[5],
    }));
    const json = JSON.parse((await cli(["summary", "--no-names", "--json", ...s])).text);
    assertEquals(json.roots.length, s.length);
    const holds = (b: { x: number; y: number; w: number; h: number }, x: number, y: number) =>
      x >= b.x - 0.5 && x <= b.x + b.w + 0.5 && y >= b.y - 0.5 && y <= b.y + b.h + 0.5;
    const white = (b: { fill: string }) => /^(#fff|#ffffff|white)$/i.test(b.fill);
    // the white boxes: the chart's frame (the largest) and a box per root
    // (fill "none": the outline ECharts draws over a leaf for the mouse)
    const frame = boxes.reduce((a, b) => a.w * a.h >= b.w * b.h ? a : b);
    const rootBoxes = boxes.filter((b) => white(b) && b !== frame);
    assertEquals(rootBoxes.length, json.roots.length, "a box per root");
    for (const box of rootBoxes) {
      // the largest coloured rectangle inside the root's box
      const filled = boxes.filter((b) =>
        !white(b) && b.fill !== "none" && holds(box, b.x, b.y) && holds(box, b.x + b.w, b.y + b.h)
      ).reduce((n, b) => Math.max(n, b.w * b.h), 0);
      assert(
        filled > 0.8 * box.w * box.h,
        `a root's box (of ${s.length} scans): ${filled} of its ${box.w * box.h} filled`,
      );
    }
  }
});

Deno.test("summary --html: the treemap's grey box says 'other folders' only when subfolders were left out (--top 2 of exactly 2 said so)", async () => {
  await using tmp = await tempDir();
  for (const n of [1, 2, 3]) {
    const root = `${tmp.path}/r${n}`;
    await Deno.mkdir(root);
    await Deno.writeFile(`${root}/own`, new Uint8Array(40_000).fill(1));
    for (let i = 0; i < n; i++) {
      await Deno.mkdir(`${root}/d${i}`);
      await Deno.writeFile(`${root}/d${i}/f`, new Uint8Array(20_000 * (i + 1)).fill(2));
    }
    // the reference: the root's subfolders on disk
    let subs = 0;
    for await (const e of Deno.readDir(root)) if (e.isDirectory) subs++;
    const scan = `${tmp.path}/r${n}.csv`;
    assertEquals((await cli(["-o", scan, root])).code, 0);
    const page = `${tmp.path}/r${n}.html`;
    const r = await cli(["summary", "--json", "--no-names", "--top", "2", "--html", page, scan]);
    assertEquals(r.code, 0, r.stderr);
    const json = JSON.parse(r.text);
    assertEquals(json.folderTree[0].subfolders, subs, "--json: the root's subfolders");
    const svg = (await Deno.readTextFile(page))
      .match(/<section id="chart-folders">([\s\S]*?)<\/section>/)![1];
    const labels = svgLabels(svg).map((l) => l.text);
    const grey = labels.filter((t) => t.startsWith("(files here"));
    assert(grey.length > 0, `${n}: a grey box: ${labels}`);
    assertEquals(grey[0], subs > 2 ? "(files here, other folders)" : "(files here)", `${n}`);
  }
});

testNeeding([CHROMIUM], {
  name:
    "summary and diff --html in Chromium, 1000 and 500 px wide (its narrowest window): a long name without spaces wraps in its cell, a long ROOT in its heading, the page no wider than the window (a table or chart scrolls in its box), no number, short word or heading broken (review)",
  async fn() {
    await using tmp = await tempDir();
    // (a ROOT of 150 characters without a space: the page's heading)
    const root = `${tmp.path}/${"t".repeat(150)}`;
    await Deno.mkdir(root);
    const old = `${tmp.path}/old.csv`;
    assertEquals((await cli(["-o", old, root])).code, 0);
    const long = "x".repeat(250);
    await Deno.writeFile(`${root}/${long}`, new Uint8Array(50_000).fill(1));
    const scan = `${tmp.path}/new.csv`;
    assertEquals((await cli(["-o", scan, root])).code, 0);
    for (const args of [["summary", scan], ["diff", old, scan]]) {
      const page = `${tmp.path}/${args[0]}.html`;
      const r = await cli([args[0], "--no-names", "--html", page, ...args.slice(1)]);
      assertEquals(r.code, 0, r.stderr);
      // the page's widths as laid out, written into the DOM by a script
      // added here (the page itself has none)
      const probe = `${tmp.path}/${args[0]}-probe.html`;
      await Deno.writeTextFile(
        probe,
        (await Deno.readTextFile(page)).replace(
          "</body>",
          "<script>const d = document.documentElement; document.body.dataset.widths = " +
            "`${d.scrollWidth} ${d.clientWidth}`;" +
            // number cells laid out on more than one line, headings on
            // more lines than words ("115.0 GiB" as "11 / 5. / 0 / Gi / B",
            // "appar / ent"; "added / alloc" is fine)
            "document.body.dataset.broken = JSON.stringify([...document.querySelectorAll(" +
            "'td.n, td.w, th')].filter((c) => { const r = document.createRange(); " +
            "r.selectNodeContents(c); const words = c.matches('th') ? " +
            "c.textContent.split(' ').length : 1; return r.getClientRects().length > words; })" +
            ".map((c) => c.textContent));</script></body>",
        ),
      );
      for (const width of [1000, 500]) {
        const dom = await chromium(
          [`--window-size=${width},800`, "--dump-dom", `file://${probe}`],
          `${tmp.path}/p-${args[0]}-${width}`,
        );
        const at = `${args[0]} at ${width} px`;
        assert(dom.includes(long), `${at}: the name in the page`);
        const [scroll, client] = dom.match(/data-widths="(\d+) (\d+)"/)!.slice(1).map(Number);
        assert(client <= width, `${at}: a ${client} px window`);
        assert(scroll <= client, `${at}: ${scroll} px of page in a ${client} px window`);
        const broken = dom.match(/data-broken="([^"]*)"/);
        assert(broken, `${at}: the probe ran`);
        assertEquals(JSON.parse(broken![1].replaceAll("&quot;", '"')), [], `${at}: broken cells`);
      }
    }
  },
});

Deno.test("summary and diff --html: a chart with nothing to draw is a note, not empty axes", async () => {
  await using tmp = await tempDir();
  // an empty folder: no file (Deno.readDir: nothing in it)
  const root = `${tmp.path}/empty`;
  await Deno.mkdir(root);
  for await (const _ of Deno.readDir(root)) throw new Error("not empty");
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  const section = (html: string, id: string) =>
    html.match(new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`))![1];
  const page = `${tmp.path}/s.html`;
  let r = await cli(["summary", "--no-names", "--html", page, scan]);
  assertEquals(r.code, 0, r.stderr);
  let html = await Deno.readTextFile(page);
  for (const id of ["chart-extensions", "chart-sizes", "chart-mtime", "chart-atime"]) {
    const sec = section(html, id);
    assert(!sec.includes("<svg") && sec.includes("(no files)"), `summary ${id}: ${sec}`);
  }
  assert(section(html, "chart-folders").includes("<svg"), "the treemap drawn");
  // its one box: the folder's own entry, not files (it has none)
  const boxes = svgLabels(section(html, "chart-folders")).map((l) => l.text);
  assert(
    boxes.includes("(the folder itself)") && !boxes.some((t) => t.startsWith("(files here")),
    `the treemap's labels: ${boxes}`,
  );
  // a scan against itself: nothing changed
  const d = `${tmp.path}/d.html`;
  r = await cli(["diff", "--no-names", "--json", "--html", d, scan, scan]);
  assertEquals(r.code, 0, r.stderr);
  const json = JSON.parse(r.text);
  assertEquals([json.users, json.groups, json.folders], [[], [], []]);
  html = await Deno.readTextFile(d);
  for (const id of ["chart-users", "chart-groups", "chart-folders"]) {
    const sec = section(html, id);
    assert(!sec.includes("<svg") && sec.includes("(no changes)"), `diff ${id}: ${sec}`);
  }
});

Deno.test("summary: with no allocated bytes (no blocks reported) the top extensions are the largest by apparent size, as the page's chart titles them", async () => {
  await using tmp = await tempDir();
  const N = 1_800_000_000;
  // st_blocks 0 throughout: five small .a files, one large .b
  const files = [
    ...Array.from({ length: 5 }, (_, i) => ({ name: `s${i}.a`, ext: "a", size: 100 })),
    { name: "big.b", ext: "b", size: 100_000 },
  ];
  const scan = `${tmp.path}/noblocks.csv`;
  await Deno.writeTextFile(
    scan,
    `2,0,-1,"/r","",0,0,4096,1,0,2,"0040755",${N},${N},${N},${files.length},0\n` +
      files.map((f, i) =>
        `${10 + i},2,0,"/r/${f.name}","${f.ext}",1001,1001,${f.size},1,0,1,` +
        `"0100644",${N},${N},${N},-1,0\n`
      ).join(""),
  );
  // the reference: apparent bytes per extension, from the rows written
  const by = new Map<string, number>();
  for (const f of files) by.set(f.ext, (by.get(f.ext) ?? 0) + f.size);
  const largest = [...by].sort((a, b) => b[1] - a[1])[0];
  const page = `${tmp.path}/p.html`;
  const r = await cli(["summary", "--json", "--no-names", "--top", "1", "--html", page, scan]);
  assertEquals(r.code, 0, r.stderr);
  const json = JSON.parse(r.text);
  assertEquals(json.totals.allocatedBytes, 0);
  assertEquals(
    json.extensions.map((x: { ext: string; apparentBytes: number }) => [x.ext, x.apparentBytes]),
    [largest],
  );
  const html = await Deno.readTextFile(page);
  assert(html.includes("<h2>Extensions by apparent size</h2>"), "the chart's title");
});

Deno.test("summary and diff --html: a byte axis has its ticks at round binary amounts in one unit ('0 B, 2.0 KiB, 4.0 KiB', '0 B, 0.5 GiB, 1.0 GiB, 1.5 GiB'), not decimal ones labelled in binary units ('1000 B, 2.0 KiB, 2.9 KiB') nor 1500 MiB as '1.5 GiB'", async () => {
  await using tmp = await tempDir();
  const N = 1_800_000_000;
  // files of decimal sizes, owners, extensions and ages apart
  const files: [string, number, number, number][] = [
    ["a.dat", 5_000, 0, N - 86400 * 10],
    ["b.txt", 3_000, 1, N - 86400 * 100],
    ["c.bin", 200_000_000, 2, N - 86400 * 400],
    ["d.iso", 381_000_000, 3, N - 86400 * 900],
  ];
  const row = (i: number, [name, size, uid, t]: (typeof files)[0]) =>
    `${10 + i},2,0,"/r/${name}","${name.split(".")[1]}",${uid},${uid},${size},1,` +
    `${Math.ceil(size / 512)},1,"0100644",${t},${t},${t},-1,0`;
  const scan = (list: typeof files) =>
    `2,0,-1,"/r","",0,0,4096,1,8,2,"0040755",${N},${N},${N},${list.length},0\n` +
    list.map((f, i) => row(i, f)).join("\n") + "\n";
  const old = `${tmp.path}/old.csv`, now = `${tmp.path}/new.csv`;
  await Deno.writeTextFile(old, scan(files.slice(0, 2)));
  await Deno.writeTextFile(now, scan(files));
  const units = ["B", "KiB", "MiB", "GiB"];
  // a byte axis's labels: the byte labels of a chart at one height (a
  // horizontal axis) or one x (a vertical one), three or more of them
  const axis = (svg: string): string[] => {
    const labels = svgLabels(svg).filter((l) => /^-?[\d.]+ (B|KiB|MiB|GiB)$/.test(l.text));
    const by = (k: "x" | "y") => {
      const groups = new Map<number, string[]>();
      for (const l of labels) {
        groups.set(Math.round(l[k]), [...groups.get(Math.round(l[k])) ?? [], l.text]);
      }
      return [...groups.values()].filter((g) => g.length >= 3);
    };
    const found = [...by("y"), ...by("x")];
    assertEquals(found.length, 1, `one axis of bytes: ${labels.map((l) => l.text)}`);
    return found[0];
  };
  // every label exact: all in one unit (0 B aside), the largest not above
  // the largest bar (`top`, when known), at a step of 1, 2 or 5 x 10^k of
  // it (counted in tenths of a thousandth, exact), from 0 past `top`
  const checkTicks = (ticks: string[], what: string, top?: number) => {
    const parsed = ticks.map((t) => t.split(" ")).map(([n, u]) => ({ n, u }));
    const inUnits = new Set(parsed.filter((t) => Number(t.n) !== 0).map((t) => t.u));
    assertEquals(inUnits.size, 1, `${what}: one unit: ${ticks}`);
    const unit = [...inUnits][0];
    if (top !== undefined) {
      const want = units.findLast((_, i) => 1024 ** i <= top);
      assertEquals(unit, want, `${what}: the unit of the largest bar, ${top} B: ${ticks}`);
    }
    // (a label as a whole number of 10^-4 of the unit: "1.5" -> 15000)
    const fixed = (n: string) => Math.round(Number(n) * 10000);
    for (const t of parsed) {
      assertEquals(String(fixed(t.n) / 10000), String(Number(t.n)), `${what}: ${ticks}`);
    }
    const v = parsed.map((t) => fixed(t.n)).sort((a, b) => a - b);
    const steps = [...new Set(v.slice(1).map((x, i) => x - v[i]))];
    assertEquals(steps.length, 1, `${what}: evenly spaced: ${ticks}`);
    assert(/^[125]0*$/.test(String(steps[0])), `${what}: a step of 1, 2 or 5 x 10^k: ${ticks}`);
    assert(v.includes(0), `${what}: 0 is a tick: ${ticks}`);
    if (top !== undefined) {
      assert(v.at(-1)! * 1024 ** units.indexOf(unit) >= top * 10000, `${what}: past ${top}`);
    }
  };
  const pages: [string, string[]][] = [
    ["summary", ["chart-users", "chart-groups", "chart-extensions", "chart-mtime", "chart-atime"]],
    ["diff", ["chart-users", "chart-groups"]],
  ];
  for (const [cmd, ids] of pages) {
    const page = `${tmp.path}/${cmd}.html`;
    const r = await cli([
      cmd,
      "--no-names",
      "--html",
      page,
      ...(cmd === "diff" ? [old, now] : ["--now", String(N), now]),
    ]);
    assertEquals(r.code, 0, r.stderr);
    const html = await Deno.readTextFile(page);
    for (const id of ids) {
      const svg = html.match(new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`))![1];
      checkTicks(axis(svg), `${cmd} ${id}`);
    }
  }
  // one file of each of these sizes, no blocks allocated: the extensions
  // chart (by apparent size then) has it as its largest bar (a step of
  // 500 of a unit went past 1024 of it, labelled rounded in the next
  // unit: 1500 MiB as '1.5 GiB')
  for (const size of [1023, Math.round(1.2 * 2 ** 30), 2400 * 2 ** 20, 5000, 381_000_000]) {
    const one = `${tmp.path}/one${size}.csv`;
    const text = scan([["e.dat", size, 0, N - 86400]]);
    await Deno.writeTextFile(
      one,
      text.replace(",1,8,2,", ",1,0,2,").replace(/,1,\d+,1,"0100644",/, ',1,0,1,"0100644",'),
    );
    const page = `${tmp.path}/one${size}.html`;
    const r = await cli(["summary", "--no-names", "--html", page, "--now", String(N), one]);
    assertEquals(r.code, 0, r.stderr);
    const html = await Deno.readTextFile(page);
    assert(html.includes("<h2>Extensions by apparent size</h2>"), `${size}: by apparent size`);
    const svg = html.match(/<section id="chart-extensions">([\s\S]*?)<\/section>/)![1];
    checkTicks(axis(svg), `extensions, largest ${size} B`, size);
  }
});

Deno.test("diff --html: blocks written into a sparse hole (same size and mtime, no chown) are 'allocation changed alone' per folder, and not called an ownership change", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`, file = `${root}/p/sparse`;
  await Deno.mkdir(`${root}/p`, { recursive: true });
  await Deno.writeTextFile(`${root}/p/small`, "x");
  {
    using f = await Deno.open(file, { write: true, create: true });
    await f.truncate(1 << 20);
  }
  const scan = async (name: string) => {
    const r = await cli(["-o", `${tmp.path}/${name}`, root]);
    assertEquals(r.code, 0, r.stderr);
    return `${tmp.path}/${name}`;
  };
  const a = await scan("a.csv");
  const before = await Deno.stat(file);
  {
    using f = await Deno.open(file, { write: true });
    await f.seek(512 * 1024, Deno.SeekMode.Start);
    await f.write(new Uint8Array(40 * 1024).fill(1));
    await f.syncData();
  }
  await Deno.utime(file, before.atime!, before.mtime!); // size and mtime as they were
  const after = await Deno.stat(file);
  assertEquals([after.size, after.mtime?.getTime()], [before.size, before.mtime?.getTime()]);
  assert(after.blocks! > before.blocks!, "the premise: blocks were allocated");
  const b = await scan("b.csv");
  const page = `${tmp.path}/d.html`;
  const r = await cli(["diff", "--json", "--html", page, a, b]);
  assertEquals(r.code, 0, r.stderr);
  const json = JSON.parse(new TextDecoder().decode(r.stdout));
  // the net: the blocks, as stat counts them (512-byte units)
  assertEquals(json.totals.net.allocatedBytes, (after.blocks! - before.blocks!) * 512);
  const html = await Deno.readTextFile(page);
  const section = (id: string) =>
    html.match(new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`))?.[1] ?? "";
  assert(section("chart-folders").includes("allocation changed alone"), "the folder's bar");
  for (const id of ["chart-users", "chart-groups"]) {
    assert(section(id).includes("owner, group or allocation changed"), id);
  }
  assert(!html.includes("owner or group changed"), "called an ownership change");
});

/** The SVG of chart section `id` of a page. */
function chartSvg(html: string, id: string): string {
  const m = html.match(new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`));
  assert(m, `section ${id} in the page`);
  return m![1];
}

/** The texts of an SVG with where ECharts put them (transform's y, plus y). */
function svgTexts(svg: string): { text: string; y: number }[] {
  return [...svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)].map((m) => {
    const t = /transform="translate\([\d.-]+ ([\d.-]+)\)"/.exec(m[1]);
    const y = / y="([\d.-]+)"/.exec(m[1]);
    return { text: m[2], y: Number(t?.[1] ?? 0) + Number(y?.[1] ?? 0) };
  });
}

Deno.test("summary and diff --html as an admin reads them: a colour per user, the legend above the bars, every size range on the axis, bars given room, how many beside the top, folders by their path (review)", async () => {
  await using tmp = await tempDir();
  const N = 1_800_000_000, D = 86_400;
  // 25 users, one file each (user u: 16(u+1) blocks), and one of 1 byte:
  // sizes 1 B and 8 KiB to 200 KiB, no file from 2 B to 8 KiB
  const users = Array.from({ length: 25 }, (_, u) => 3000 + u);
  const rows = users.map((uid, u) => ({ uid, size: 16 * (u + 1) * 512, blocks: 16 * (u + 1) }));
  rows.push({ uid: 3000, size: 1, blocks: 8 });
  const scan = `${tmp.path}/many.csv`;
  const t = N - 10 * D;
  await Deno.writeTextFile(
    scan,
    `2,0,-1,"/r","",0,0,4096,1,8,2,"0040755",${N},${N},${N},${rows.length},4096\n` +
      rows.map((f, i) =>
        `${10 + i},2,0,"/r/f${i}","",${f.uid},${f.uid},${f.size},1,${f.blocks},1,` +
        `"0100644",${t},${t},${N},-1,0\n`
      ).join(""),
  );
  const page = `${tmp.path}/many.html`;
  const r = await cli([
    "summary",
    "--no-names",
    "--top",
    "30",
    "--json",
    "--now",
    String(N),
    "--html",
    page,
    scan,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const json = JSON.parse(new TextDecoder().decode(r.stdout));
  const html = await Deno.readTextFile(page);
  for (const id of ["mtime", "atime"]) {
    const svg = chartSvg(html, `chart-${id}`);
    // each layer (series) in a colour of its own: ECharts' 9 repeated
    const fills = new Map<string, string>();
    for (const m of svg.matchAll(/<path [^>]*fill="(#[0-9a-f]{6})" ecmeta_series_index="(\d+)"/g)) {
      fills.set(m[2], m[1]);
    }
    assertEquals(fills.size, 21, `${id}: 20 users and the rest, each a layer`);
    assertEquals(new Set(fills.values()).size, fills.size, `${id}: one colour per layer`);
    // the legend (users' numbers) wholly above the value axis' labels
    const texts = svgTexts(svg);
    const legend = texts.filter((x) => /^\d+$|^\(other users\)$/.test(x.text)).map((x) => x.y);
    const axis = texts.filter((x) => /\d B$|iB$/.test(x.text)).map((x) => x.y);
    assert(legend.length > 20 && axis.length > 1, `${id}: ${legend.length} legend texts`);
    assert(
      Math.max(...legend) + 12 < Math.min(...axis),
      `${id}: the legend reaches ${Math.max(...legend)}, the axis starts at ${Math.min(...axis)}`,
    );
  }
  // long names in capitals (wider than the average letter): the legend
  // still wholly above the axis (the page drawn by the API from the same
  // summary, its users renamed)
  const { summaryHtml } = await import("../mod.ts");
  const named = structuredClone(json);
  for (const u of [...named.mtimeAgesByUser, ...named.atimeAgesByUser]) {
    u.name = `${"W".repeat(28)}${u.id}`;
  }
  const wide = svgTexts(chartSvg(await summaryHtml(named), "chart-mtime"));
  const wideLegend = wide.filter((x) => x.text.startsWith("WWW")).map((x) => x.y);
  const wideAxis = wide.filter((x) => /\d B$|iB$/.test(x.text)).map((x) => x.y);
  assert(wideLegend.length === 20, `${wideLegend.length} wide names in the legend`);
  assert(
    Math.max(...wideLegend) + 12 < Math.min(...wideAxis),
    `wide names: the legend reaches ${Math.max(...wideLegend)}, the axis starts at ${
      Math.min(...wideAxis)
    }`,
  );
  // the size axis: every power of two from the smallest file's range to
  // the largest's, those without files too
  const sizes = svgTexts(chartSvg(html, "chart-sizes")).map((x) => x.text).filter((x) =>
    x.startsWith("≥")
  );
  const hist = json.sizeHistogram as { min: number; max: number }[];
  const want: number[] = [];
  for (let at = hist[0].min; at <= hist.at(-1)!.min; at = at === 0 ? 1 : at * 2) want.push(at);
  assertEquals(sizes.length, want.length, `the axis: ${sizes.join(" ")}`);
  assert(want.length > hist.length, "the premise: ranges without files between");
  // 25 bars of users: drawn taller than 25 x 22 px, not squeezed into 360
  const height = Number(/<svg width="\d+" height="(\d+)"/.exec(chartSvg(html, "chart-users"))![1]);
  assert(height >= 25 * 22, `the users' chart ${height} px high`);
  // the tables say how many there are beside the top ones
  const heading = (id: string) =>
    html.match(new RegExp(`<section id="${id}"><h2>([^<]*)</h2>`))![1];
  const r2 = await cli(["summary", "--no-names", "--top", "5", "--json", "--html", page, scan]);
  const json2 = JSON.parse(new TextDecoder().decode(r2.stdout));
  const html2 = await Deno.readTextFile(page);
  const heading2 = (id: string) =>
    html2.match(new RegExp(`<section id="${id}"><h2>([^<]*)</h2>`))![1];
  assertEquals(heading2("users"), `Users (top 5 of ${json2.userCount})`);
  assertEquals(heading2("groups"), `Groups (top 5 of ${json2.groupCount})`);
  assertEquals(heading("extensions"), `Extensions (files; top 1 of ${json.extensionCount})`);

  // a diff's folders chart names folders by their path below the root:
  // alpha/data and beta/data, not "data" twice
  const tree = `${tmp.path}/tree`;
  for (const d of ["alpha/data", "beta/data"]) {
    await Deno.mkdir(`${tree}/${d}`, { recursive: true });
  }
  const old = `${tmp.path}/old.csv`, now = `${tmp.path}/new.csv`;
  assertEquals((await cli(["-o", old, tree])).code, 0);
  for (const d of ["alpha/data", "beta/data"]) {
    await Deno.writeFile(`${tree}/${d}/x`, new Uint8Array(100_000).fill(1));
  }
  assertEquals((await cli(["-o", now, tree])).code, 0);
  const dpage = `${tmp.path}/diff.html`;
  const rd = await cli(["diff", "--no-names", "--depth", "2", "--html", dpage, old, now]);
  assertEquals(rd.code, 0, rd.stderr);
  const labels = svgTexts(chartSvg(await Deno.readTextFile(dpage), "chart-folders"))
    .map((x) => x.text);
  for (const d of ["alpha/data", "beta/data"]) assert(labels.includes(d), `${d} in ${labels}`);
});

Deno.test("summary and diff --html with a --top past 50: the bar charts draw the table's first 50 and say so, the tables list them all (review at scale)", async () => {
  await using tmp = await tempDir();
  const N = 1_800_000_000;
  const users = Array.from({ length: 70 }, (_, u) => 3000 + u);
  const scan = (grow: number) =>
    `2,0,-1,"/r","",0,0,4096,1,8,2,"0040755",${N},${N},${N},${users.length},4096\n` +
    users.map((uid, i) =>
      `${10 + i},2,0,"/r/f${i}","",${uid},${uid},${(i + 1) * 4096 * grow},1,${
        (i + 1) * 8 * grow
      },1,"0100644",${N},${N},${N},-1,0\n`
    ).join("");
  const [a, b] = [`${tmp.path}/a.csv`, `${tmp.path}/b.csv`];
  await Deno.writeTextFile(a, scan(1));
  await Deno.writeTextFile(b, scan(2));
  const page = `${tmp.path}/p.html`;
  for (const args of [["summary", b], ["diff", a, b]]) {
    const r = await cli([args[0], "--no-names", "--top", "70", "--html", page, ...args.slice(1)]);
    assertEquals(r.code, 0, r.stderr);
    const html = await Deno.readTextFile(page);
    const heading = html.match(/<section id="chart-users"><h2>([^<]*)<\/h2>/)![1];
    assert(heading.includes("(the first 50 of 70 in the table)"), `${args[0]}: ${heading}`);
    // 50 users named on the chart's axis: the largest (ordered as the table)
    const named = svgTexts(chartSvg(html, "chart-users")).map((x) => x.text).filter((x) =>
      /^30\d\d$/.test(x)
    );
    assertEquals(new Set(named).size, 50, `${args[0]}: ${named.length}`);
    assert(named.includes("3069") && !named.includes("3000"), `${args[0]}: ${named}`);
    const table = html.slice(html.indexOf('<section id="users">'));
    const rows = table.slice(0, table.indexOf("</table>")).match(/<tr>/g)!.length;
    assertEquals(rows, 1 + 70, `${args[0]}: the table's rows and its head`);
  }
});

Deno.test("summary --html: a user named in 200 characters is cut in the age charts' legend, which stays within the chart (a name wider than the chart drew the names beside it off its left edge)", async () => {
  await using tmp = await tempDir();
  const N = 1_800_000_000, t = N - 40 * 86_400;
  const scan = `${tmp.path}/s.csv`;
  await Deno.writeTextFile(
    scan,
    `2,0,-1,"/r","",0,0,4096,1,8,2,"0040755",${N},${N},${N},4,4096\n` +
      [3000, 3001, 3002, 3003].map((uid, i) =>
        `${10 + i},2,0,"/r/f${i}","",${uid},${uid},${4096 * (i + 1)},1,${8 * (i + 1)},1,` +
        `"0100644",${t},${t},${N},-1,0\n`
      ).join(""),
  );
  const r = await cli(["summary", "--no-names", "--json", "--now", String(N), scan]);
  assertEquals(r.code, 0, r.stderr);
  const json = JSON.parse(r.text);
  const long = "u".repeat(200);
  for (const u of [...json.mtimeAgesByUser, ...json.atimeAgesByUser]) {
    u.name = u.id === 3001 ? long : `user${u.id}`;
  }
  const { summaryHtml } = await import("../mod.ts");
  const html = await summaryHtml(json);
  for (const id of ["mtime", "atime"]) {
    const svg = chartSvg(html, `chart-${id}`);
    const width = Number(/<svg width="(\d+)"/.exec(svg)![1]);
    // the legend's texts (ECharts draws each at x="30" beside its symbol)
    const legend = [...svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)]
      .filter((m) => / x="30"/.test(m[1]))
      .map((m) => ({ text: m[2], x: Number(/translate\(([\d.-]+) /.exec(m[1])![1]) + 30 }));
    const users = json[`${id}AgesByUser`].length;
    assert(users >= 4, `${id}: ${users} users`);
    assertEquals(legend.length, users, `${id}: every user in the legend`);
    for (const l of legend) {
      assert(l.x >= 0 && l.x < width, `${id}: ${l.text.slice(0, 20)} drawn at x ${l.x}`);
    }
    const cut = legend.find((l) => l.text.startsWith("uuu"))!;
    assert(cut.text.length < long.length, `${id}: the long name cut (${cut.text.length})`);
  }
});

/** WCAG's contrast ratio of two colours (#rgb, #rrggbb or rgb(r,g,b)). */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const v = /^#[0-9a-f]{3}$/i.test(c)
      ? [1, 2, 3].map((i) => parseInt(c[i] + c[i], 16))
      : c.startsWith("#")
      ? [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16))
      : c.match(/\d+/g)!.slice(0, 3).map(Number);
    const [r, g, bl] = v.map((x) => {
      const s = x / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

Deno.test("summary --html: the treemap's names, on every box colour and shade (level 1 and 2), read at 3:1 or more against it, or are drawn in a halo they read at 7:1 against (white on the palette's yellow was 1.6:1, dark grey on the inner blues 2.5:1); a count axis of few files has whole-number ticks", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (let i = 0; i < 9; i++) {
    for (let j = 0; j < 3; j++) {
      await Deno.mkdir(`${root}/d${i}/s${j}`, { recursive: true });
      await Deno.writeFile(
        `${root}/d${i}/s${j}/f`,
        new Uint8Array(10_000 * (i + 1) * (j + 1)).fill(1),
      );
    }
  }
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  const page = `${tmp.path}/s.html`;
  const r = await cli(["summary", "--no-names", "--html", page, scan]);
  assertEquals(r.code, 0, r.stderr);
  const html = await Deno.readTextFile(page);
  const svg = chartSvg(html, "chart-folders");
  const boxes = new Set(
    [...svg.matchAll(/<path [^>]*fill="([^"]+)"/g)].map((m) => m[1])
      .filter((c) => !/^#fff(fff)?$|rgb\(255,255,255\)/.test(c)),
  );
  assert(boxes.size >= 9, `the palette's colours: ${[...boxes]}`);
  assert(boxes.size >= 27, `the palette's colours and their shades: ${[...boxes]}`);
  // the names on the boxes (d0 ... d8 on their headers, s0 ... s2 and
  // their sizes inside): each against every box colour, or its halo (an
  // SVG stroke painted under the text: paint-order stroke, opaque enough)
  const inside = [...svg.matchAll(/<text ([^>]*)>(d\d|s\d|[\d.]+ KiB)<\/text>/g)];
  assert(inside.length >= 27, `labels on the boxes: ${inside.length}`);
  for (const [, attrs, name] of inside) {
    const text = / fill="([^"]+)"/.exec(attrs)![1];
    const worst = Math.min(...[...boxes].map((b) => contrast(text, b)));
    if (worst >= 3) continue;
    const halo = / stroke="([^"]+)"/.exec(attrs)?.[1];
    const width = Number(/ stroke-width="([\d.]+)"/.exec(attrs)?.[1] ?? 0);
    const opacity = Number(/ stroke-opacity="([\d.]+)"/.exec(attrs)?.[1] ?? 1);
    assert(
      halo && width >= 2 && opacity >= 0.8 && / paint-order="stroke"/.test(attrs) &&
        contrast(text, halo) >= 7,
      `${name} in ${text} (${worst.toFixed(2)}:1 on the darkest box), halo: ${attrs}`,
    );
  }
  // the size chart's count axis: 1 file a range, no tick at 0.2
  const ticks = svgTexts(chartSvg(html, "chart-sizes")).map((x) => x.text)
    .filter((x) => /^[\d.]+$/.test(x));
  assert(ticks.length >= 2, `count ticks: ${ticks}`);
  for (const t of ticks) assert(Number.isInteger(Number(t)), `a tick at ${t} files: ${ticks}`);
});
