/**
 * What the shard commands say: why a plan has fewer shards than
 * asked, what a `--from` scan that does not fit the tree does to it, which
 * shards `slurm --resume` resubmits, and a lock of a zombie in `status`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { CLI, cli, REPO, run, spawnCli, UNPRIVILEGED } from "./helpers/run.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { waitFor } from "./helpers/wait.ts";
import { makePlan, type TestPlan } from "./helpers/shard.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, SETPRIV, testNeeding, ZSTD } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { mktree, python } from "./helpers/tree.ts";
import { readScanCounts } from "../mod.ts";
import { DeepListings, listFolder, type ListTarget } from "../lib/shard/list.ts";
import { planShards } from "../lib/shard/plan.ts";
import { joinPath, type JsonPath, pathOfJson } from "../lib/shard/paths.ts";

/** The folders in `dir`, by Deno.readDir. */
function foldersIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)].filter((e) => e.isDirectory).map((e) => e.name);
}

/** pwalk plan's stderr, and the plan. */
async function plan(root: string, file: string, args: string[]) {
  const r = await cli(["plan", root, "-o", file, ...args]);
  assertEquals(r.code, 0, r.stderr);
  return { stderr: r.stderr, plan: JSON.parse(await Deno.readTextFile(file)) };
}

Deno.test("plan with fewer shards than asked says why: the listing budget, or no folder to split into", async () => {
  await using tmp = await tempDir();
  // three folders that hold folders, and files
  const root = `${tmp.path}/deep`;
  for (const d of ["a", "b", "c"]) {
    for (const s of ["x", "y", "z"]) {
      await Deno.mkdir(`${root}/${d}/${s}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${d}/${s}/f.txt`, s);
    }
  }
  const n = foldersIn(root).length;
  // --max-listed 1: the root only, its folders never listed
  const budget = await plan(root, `${tmp.path}/p1.json`, ["--shards", "8", "--max-listed", "1"]);
  assertEquals([budget.plan.shards, budget.plan.frontier.length], [n + 1, n]);
  assertEquals(budget.plan.unsplit.budget, n);
  assertMatch(
    budget.stderr,
    new RegExp(
      `^pwalk plan: ${n + 1} shards \\(not 8: ${n} frontier folders; the listing budget ` +
        "\\(--max-listed\\) ran out before they were listed\\) over ",
    ),
  );
  // a tree whose folders hold files only
  const flat = `${tmp.path}/flat`;
  for (const d of ["a", "b"]) {
    await Deno.mkdir(`${flat}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${flat}/${d}/f.txt`, d);
  }
  const m = foldersIn(flat).length;
  const whole = await plan(flat, `${tmp.path}/p2.json`, ["--shards", "8"]);
  assertEquals(whole.plan.frontier.length, m);
  assertEquals(whole.plan.unsplit.bottom, m);
  assertMatch(
    whole.stderr,
    new RegExp(`\\(not 8: ${m} frontier folders; they hold no folder to split into\\) over `),
  );
  assert(!/the tree has no more/.test(budget.stderr + whole.stderr));
});

Deno.test("README's shards without Slurm, run as written on a tree that gets fewer shards than asked: every shard runs, none refused, the scan complete", async () => {
  await using tmp = await tempDir();
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  const block = readme.match(/\*\*Without Slurm\*\*[^]*?```sh\n([^]*?)```/);
  if (!block) throw new Error("README's Without Slurm block");
  // two folders to share out: fewer shards than the 8 asked for
  const data = `${tmp.path}/data`;
  for (const d of ["a", "b"]) {
    await Deno.mkdir(`${data}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${data}/${d}/f.txt`, d);
  }
  // pwalk is this checkout's CLI; ssh runs the command here
  const script = 'pwalk() { "$DENO" run -A "$CLI" "$@"; }\nssh() { shift; "$@"; }\n' +
    block[1].replaceAll(" /data ", ` ${data} `);
  const r = await run("bash", ["-c", script], {
    cwd: tmp.path,
    env: { DENO: Deno.execPath(), CLI, NO_COLOR: "1" },
  });
  assertEquals(r.code, 0, r.stderr);
  const plan = JSON.parse(await Deno.readTextFile(`${tmp.path}/scan/plan.json`));
  assert(plan.shards < 8, `the premise: fewer shards than asked (${plan.shards})`);
  // no shard refused ('--shard needs a whole number from 0 to ...'), none missing
  assertEquals(r.stderr.split("\n").filter((l) => /--shard needs|refused|not a/.test(l)), []);
  assertStringIncludes(r.text, `${plan.shards} shards: ${plan.shards} done`);
});

Deno.test("plan --from a scan of another tree: one warning, and the plan made from listings", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`, other = `${tmp.path}/other`;
  await mktree(root, 3000, 7);
  await mktree(other, 300, 8);
  const scan = `${tmp.path}/other.csv`;
  assertEquals((await cli(["-o", scan, other])).code, 0);
  // the root's folders are none of the other tree's
  const mine = foldersIn(root), theirs = new Set(foldersIn(other));
  assert(mine.every((d) => !theirs.has(d)), "the trees share a folder name");
  const listing = await makePlan(root, 8, `${tmp.path}/a.json`);
  const from = await plan(root, `${tmp.path}/b.json`, ["--shards", "8", "--from", scan]);
  const b: TestPlan = from.plan;
  assertEquals(b.estimate.source, "listing");
  assertEquals([b.shards, b.frontier, b.estimate.loads], [
    listing.shards,
    listing.frontier,
    listing.estimate.loads,
  ]);
  const warnings = from.stderr.split("\n").filter((l) => l.includes("warning"));
  assertEquals(warnings.length, 1, from.stderr);
  assertMatch(
    warnings[0],
    new RegExp(
      `^pwalk: warning: --from: the previous scan knows 0 of the root's ${mine.length} ` +
        "folders: is it a scan of this tree\\? The plan estimates from listings instead$",
    ),
  );
});

Deno.test("plan --from a scan made with --depth: readScanCounts tells its depth; a warning when the plan walks deeper", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await mktree(root, 3000, 7);
  // the deepest folder, by Deno.readDir: the tree goes deeper than --depth 3
  let levels = 0;
  for (let now = [root]; now.length; levels++) {
    now = now.flatMap((d) => foldersIn(d).map((n) => `${d}/${n}`));
  }
  assert(levels > 4, `the tree has ${levels} levels of folders`);
  for (const depth of [0, 1, 2, 3]) {
    const scan = `${tmp.path}/d${depth}.csv`;
    assertEquals((await cli(["-o", scan, "--depth", String(depth), root])).code, 0);
    assertEquals((await readScanCounts([scan])).depthLimit, depth, scan);
  }
  const cases: [string[], RegExp | null][] = [
    [
      [],
      /seems made with --depth 2 \(no row of its folders at depth 2\), this plan \(no --depth\)/,
    ],
    [["--depth", "3"], /seems made with --depth 2 [^\n]*, this plan \(--depth 3\) walks them/],
    [["--depth", "2"], null],
    [["--depth", "1"], null],
  ];
  for (const [i, [args, warning]] of cases.entries()) {
    const r = await plan(root, `${tmp.path}/p${i}.json`, [
      "--shards",
      "4",
      "--from",
      `${tmp.path}/d2.csv`,
      ...args,
    ]);
    const warnings = r.stderr.split("\n").filter((l) => l.includes("warning"));
    if (warning) {
      assertEquals(warnings.length, 1, r.stderr);
      assertMatch(warnings[0], warning);
    } else assertEquals(warnings, [], r.stderr);
  }
});

Deno.test("pwalk slurm --resume names the shards it resubmits out of the plan's: shard 1 (of 3), shards 1-2 (of 3)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const d of ["a", "b", "c"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}/f.txt`, d);
  }
  const dir = `${tmp.path}/scan`;
  const made = await cli(["slurm", root, "--shards", "3", "--out", dir, "--dry-run"]);
  assertEquals(made.code, 0, made.stderr);
  // a Slurm whose queue is empty, and an sbatch that takes any job
  const bin = `${tmp.path}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(`${bin}/squeue`, "#!/bin/sh\nexit 0\n");
  await Deno.writeTextFile(`${bin}/sbatch`, "#!/bin/sh\necho 4242\n");
  await Deno.chmod(`${bin}/squeue`, 0o755);
  await Deno.chmod(`${bin}/sbatch`, 0o755);
  const env = { PATH: `${bin}:${Deno.env.get("PATH")}` };
  // shards 0 and 2 run here: shard 1 alone is left
  for (const i of [0, 2]) {
    const r = await cli([
      "report",
      "--plan",
      `${dir}/plan.json`,
      "--shard",
      String(i),
      "-o",
      `${dir}/scan-${i}.csv.zst`,
    ]);
    assertEquals(r.code, 0, r.stderr);
  }
  const one = await cli(["slurm", "--resume", dir], { env });
  assertEquals(one.code, 0, one.stderr);
  assertMatch(one.stderr, /^pwalk slurm: resubmitted shard 1 \(of 3\) as job 4242$/m);
  await Deno.remove(`${dir}/scan-2.done.json`);
  const dry = await cli(["slurm", "--resume", dir, "--dry-run"], { env });
  assertEquals(dry.code, 0, dry.stderr);
  assertMatch(dry.stderr, /^pwalk slurm: dry run: would resubmit shards 1-2 \(of 3\)$/m);
});

Deno.test("status: a shard whose lock names a zombie (ended, not yet reaped by its parent) is incomplete, not running", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const d of ["a", "b"]) await Deno.mkdir(`${root}/${d}`, { recursive: true });
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  await makePlan(root, 2, `${dir}/plan.json`);
  // its child ends after it has exec-ed sleep, which never reaps it
  const parent = new Deno.Command("sh", {
    args: ["-c", "sleep 0.2 & echo $!; exec sleep 60"],
    stdout: "piped",
  }).spawn();
  try {
    const reader = parent.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("\n")) out += (await reader.read()).value ?? "";
    reader.releaseLock();
    const pid = Number(out.trim());
    // ps says when it is a zombie
    for (
      let i = 0;
      (await run("ps", ["-o", "stat=", "-p", String(pid)])).text.trim()[0] !== "Z";
      i++
    ) {
      assert(i < 500, `pid ${pid} never became a zombie`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await Deno.writeTextFile(`${dir}/scan-1.lock`, `pid ${pid} on ${Deno.hostname()}\n`);
    const s = await cli(["status", dir, "--json"]);
    assertEquals(s.code, 1, s.stderr);
    const shard = JSON.parse(s.text).shards[1];
    assertEquals(shard.state, "incomplete", shard.detail);
    assertMatch(shard.detail, new RegExp(`names pid ${pid} on this host, which is not running`));
  } finally {
    parent.kill();
    await parent.status;
    await parent.stdout.cancel().catch(() => {});
  }
});

Deno.test("plan and slurm --min-folders above a quarter of the --max-listed range: the default budget stays in range (the plan of an explicit --max-listed 1000000000)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const d of ["a", "b", "c", "a/x", "b/y"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}/f`, d);
  }
  const args = ["--shards", "4", "--min-folders", "300000000"];
  const byDefault = await plan(root, `${tmp.path}/p1.json`, args);
  const given = await plan(root, `${tmp.path}/p2.json`, [...args, "--max-listed", "1000000000"]);
  assertEquals(byDefault.plan.frontier, given.plan.frontier);
  assertEquals(byDefault.plan.listed, given.plan.listed);
  const s = await cli(["slurm", root, ...args, "--out", `${tmp.path}/s`, "--dry-run"]);
  assertEquals(s.code, 0, s.stderr);
  assert(!s.stderr.includes("maxListed"), s.stderr);
});

Deno.test("plan's line gives a reason when ROOT has no folder the scan walks (files only, or every folder excluded), and the planner's rule for a chain", async () => {
  await using tmp = await tempDir();
  const flat = `${tmp.path}/flat`;
  await Deno.mkdir(flat);
  for (let i = 0; i < 5; i++) await Deno.writeTextFile(`${flat}/f${i}`, "x");
  const excl = `${tmp.path}/excl`;
  await Deno.mkdir(`${excl}/only`, { recursive: true });
  await Deno.writeTextFile(`${excl}/only/f`, "x");
  for (
    const [root, extra] of [[flat, []], [excl, ["--exclude", `${excl}/only`]]] as const
  ) {
    const p = await plan(root, `${tmp.path}/p.json`, ["--shards", "4", ...extra]);
    await Deno.remove(`${tmp.path}/p.json`);
    assertEquals([p.plan.shards, p.plan.frontier.length], [1, 0]);
    assertMatch(
      p.stderr,
      /^pwalk plan: 1 shard \(not 4: 0 frontier folders; ROOT holds no folder the scan walks \(none, or only links, excluded folders, [^;)]*\)\) over 0 frontier folders/,
    );
  }
  // a chain of folders of one file each: shard 0 gets more than a shard's
  // share above the frontier (the planner splits a folder while it holds
  // more than twice those rows), and the line says so
  const chain = `${tmp.path}/chain`;
  let d = chain;
  for (let i = 0; i < 60; i++) {
    d = `${d}/d`;
    await Deno.mkdir(d, { recursive: true });
    await Deno.writeTextFile(`${d}/f`, "x");
  }
  const c = await plan(chain, `${tmp.path}/c.json`, ["--shards", "4"]);
  const e = c.plan.estimate;
  assert(c.plan.shards < 4, c.stderr);
  assert(e.top * 4 > e.total, `${e.top} above the frontier of ${e.total}`);
  assert(c.stderr.includes("than a shard's share and than half of the rows"), c.stderr);
});

testNeeding([ZSTD], {
  name: "plan --from a damaged scan (truncated, a byte flipped): the error names the file",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    for (const d of ["a", "b", "a/x"]) {
      await Deno.mkdir(`${root}/${d}`, { recursive: true });
      for (let i = 0; i < 50; i++) await Deno.writeTextFile(`${root}/${d}/f${i}`, "x".repeat(i));
    }
    const good = `${tmp.path}/good.csv.zst`;
    const r = await cli(["report", root, "-o", good]);
    assertEquals(r.code, 0, r.stderr);
    const bytes = await Deno.readFile(good);
    const cut = `${tmp.path}/cut.csv.zst`;
    await Deno.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const flipped = `${tmp.path}/flipped.csv.zst`;
    const f = bytes.slice();
    f[Math.floor(f.length / 2)] ^= 0xff;
    await Deno.writeFile(flipped, f);
    for (const bad of [cut, flipped]) {
      // the zstd command finds it damaged too
      const z = await run("zstd", ["-t", "-q", bad]);
      assert(z.code !== 0, `zstd -t ${bad}`);
      const p = await cli([
        "plan",
        root,
        "--shards",
        "2",
        "--from",
        good,
        "--from",
        bad,
        "-o",
        "-",
      ]);
      assertEquals(p.code, 1, p.stderr);
      assertEquals(p.stderr.split("\n").length, 2, p.stderr);
      assert(p.stderr.startsWith(`pwalk: ${bad}: `), p.stderr);
      const e = await readScanCounts([good, bad]).then(() => null, (e: Error) => e);
      assert(e?.message.startsWith(`${bad}: `), e?.message);
    }
  },
});

Deno.test("plan --from a plain .csv scan cut short (half a row at its end): refused as summary refuses it, no plan (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const d of ["a", "a/b", "c"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    for (let i = 0; i < 50; i++) await Deno.writeTextFile(`${root}/${d}/f${i}`, `${i}`);
  }
  const good = `${tmp.path}/good.csv`;
  const r = await cli(["report", "--header", root, "-o", good]);
  assertEquals(r.code, 0, r.stderr);
  const text = await Deno.readTextFile(good);
  // cut just after a folder row's mtime: that number read as its count of entries
  const row = text.split("\n").find((l) => l.includes(`"${root}/a/b",""`))!;
  const at = text.indexOf(row) + row.split(",").slice(0, 14).join(",").length;
  const cut = `${tmp.path}/cut.csv`;
  await Deno.writeTextFile(cut, text.slice(0, at));
  // summary refuses it: the same words from plan
  const sum = await cli(["summary", cut]);
  assertEquals(sum.code, 1, sum.stderr);
  const why = `truncated: its last row has no line end (byte ${at}); an incomplete copy?`;
  assertStringIncludes(sum.stderr, why);
  const out = `${tmp.path}/plan.json`;
  const p = await cli(["plan", root, "--shards", "2", "--from", cut, "-o", out]);
  assertEquals([p.code, p.stderr], [1, `pwalk: ${cut}: ${why}\n`]);
  assertEquals(await Deno.stat(out).then(() => true, () => false), false, "a plan was written");
  const e = await readScanCounts([cut]).then(() => null, (e: Error) => e);
  assertEquals(e?.message, `${cut}: ${why}`);
  // the whole scan is taken
  const ok = await cli(["plan", root, "--shards", "2", "--from", good, "-o", out]);
  assertEquals(ok.code, 0, ok.stderr);
});

Deno.test("readScanCounts: a scan cut short, or missing, named with a newline and ESC: its message names it escaped as one line, as the library's other messages", async () => {
  await using tmp = await tempDir();
  const cut = `${tmp.path}/cut\n\x1b[31m.csv`;
  await Deno.writeTextFile(cut, "x");
  const shown = (p: string) => p.replaceAll("\n", "\\n").replaceAll("\x1b", "\\x1b");
  const e = await readScanCounts([cut]).then(() => null, (e: Error) => e);
  assertEquals(
    e?.message,
    `${shown(cut)}: truncated: its last row has no line end (byte 1); an incomplete copy?`,
  );
  const gone = `${tmp.path}/gone\n.csv`;
  const g = await readScanCounts([gone]).then(() => null, (e: Error) => e);
  assert(g instanceof Deno.errors.NotFound, String(g));
  assertStringIncludes(g!.message, shown(gone));
  assert(!g!.message.includes("\n") && !g!.message.includes("\x1b"), g!.message);
});

testNeeding([SETPRIV], {
  name:
    "plan without privileges: a folder that can be listed but not searched (r--), its name not UTF-8 or its path past PATH_MAX, holding a folder: planned around, not an internal TypeError (the native listing's unstatted subfolder has no device)",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/t`;
    // a: a folder named with a byte 0xff, mode 0644, holding a folder;
    // deep: a chain past PATH_MAX, then "noexec" the same; w0..w2: files
    await python(
      `import os, sys
r = sys.argv[1].encode(); os.makedirs(r + b'/a/\\xffne/in')
for i in range(3):
    os.makedirs(r + b'/w%d' % i)
    for k in range(20): open(r + b'/w%d/f%d' % (i, k), 'w').close()
fd = os.open(r, os.O_RDONLY)
for l in range(20):
    n = b'c%02d' % l + b'z' * 240
    os.mkdir(n, dir_fd=fd); m = os.open(n, os.O_RDONLY, dir_fd=fd); os.close(fd); fd = m
os.mkdir(b'noexec', dir_fd=fd); os.mkdir(b'noexec/in', dir_fd=fd); os.chmod(b'noexec', 0o644, dir_fd=fd)
os.chmod(r + b'/a/\\xffne', 0o644)`,
      root,
    );
    const out = `${tmp.path}/plan.json`;
    const r = await cli(["plan", root, "--shards", "4", "-o", out], { prefix: UNPRIVILEGED });
    assertEquals(r.code, 0, r.stderr);
    // each frontier folder is the one at its path (python's lstat, reached
    // name by name from the root), none of them below an r-- folder
    const plan = JSON.parse(await Deno.readTextFile(out));
    const paths = plan.frontier.map((f: JsonPath) =>
      Array.from(pathOfJson(f), (b) => b.toString(16).padStart(2, "0")).join("")
    );
    const ids = JSON.parse(
      await python(
        `import os, sys, json
out = []
for h in sys.argv[1:]:
    names = bytes.fromhex(h).split(b'/')[1:]
    fd = os.open(b'/', os.O_RDONLY)
    for n in names[:-1]:
        m = os.open(n, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd); os.close(fd); fd = m
    st = os.lstat(names[-1], dir_fd=fd); os.close(fd)
    out.append([str(st.st_dev), str(st.st_ino)])
print(json.dumps(out))`,
        ...paths,
      ),
    );
    assertEquals(
      plan.frontier.map((
        f: JsonPath & { dev: string; ino: string },
      ) => [String(f.dev), String(f.ino)]),
      ids,
    );
    assert(
      paths.every((h: string) =>
        !h.endsWith("/in".split("").map((c) => c.charCodeAt(0).toString(16)).join(""))
      ),
    );
  },
});

Deno.test("plan's line lists each shard's estimated rows up to 16 shards, then their spread: one short line", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/wide`;
  // 40 folders of 1 to 40 files: up to 41 shards
  for (let i = 1; i <= 40; i++) {
    await Deno.mkdir(`${root}/d${i}`, { recursive: true });
    for (let k = 0; k < i; k++) await Deno.writeTextFile(`${root}/d${i}/f${k}`, "");
  }
  const num = (n: number) => n.toLocaleString("en-US");
  for (const shards of [4, 16, 17, 40]) {
    const { stderr, plan: p } = await plan(root, `${tmp.path}/p${shards}.json`, [
      "--shards",
      String(shards),
    ]);
    assertEquals(p.shards, shards);
    const loads: number[] = p.estimate.loads;
    assertEquals(stderr.split("\n").filter((l) => l).length, 1, stderr);
    const per = /, per shard (.*) \(shard 0 with the /.exec(stderr)?.[1];
    if (shards <= 16) {
      assertEquals(per, loads.map(num).join(", "));
    } else {
      const sorted = [...loads].sort((a, b) => a - b);
      assertEquals(
        per,
        `${num(sorted[0])} to ${num(sorted.at(-1)!)}, median ` +
          `${num(sorted[Math.floor((sorted.length - 1) / 2)])}, shard 0 ${num(loads[0])}`,
      );
      assert(stderr.length < 400, stderr);
    }
  }
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "a plan made while another plan -o the same file lists its tree: the later writer refuses, the plan shards ran from stays",
  async fn() {
    await using tmp = await tempDir();
    // B plans a tree on a file system that answers each request in 0.1 s:
    // it lists for seconds, after its start's check that -o holds no plan
    const src = `${tmp.path}/src`;
    for (const d of ["a", "b", "c"]) await Deno.mkdir(`${src}/${d}/x`, { recursive: true });
    await using fs = await mountSlowfs(tmp.path, src, { SLOWFS_DELAY_US: "100000" });
    const out = `${tmp.path}/scan/plan.json`;
    await Deno.mkdir(`${tmp.path}/scan`);
    const b = spawnCli(["plan", fs.path, "--shards", "2", "-o", out]);
    const outB = new Response(b.stdout).text();
    const errB = new Response(b.stderr).text();
    // B is listing once it holds a folder of the mount open
    const listing = () => {
      try {
        for (const e of Deno.readDirSync(`/proc/${b.pid}/fd`)) {
          const to = Deno.readLinkSync(`/proc/${b.pid}/fd/${e.name}`);
          if (to.startsWith(fs.path)) return true;
        }
      } catch { /* ended, or the fd closed meanwhile */ }
      return false;
    };
    await waitFor(listing, { what: "plan B listing the slow tree" });
    // A plans a fast tree into the same -o, and a shard runs from A's plan
    const root = `${tmp.path}/tree`;
    for (const d of ["p", "q"]) await Deno.mkdir(`${root}/${d}/y`, { recursive: true });
    const a = await cli(["plan", root, "--shards", "2", "-o", out]);
    assertEquals(a.code, 0, a.stderr);
    const planA = JSON.parse(await Deno.readTextFile(out)).id;
    const s0 = await cli([
      "report",
      "--plan",
      out,
      "--shard",
      "0",
      "-o",
      `${tmp.path}/scan/scan-0.csv.zst`,
    ]);
    assertEquals(s0.code, 0, s0.stderr);
    const st = await b.status;
    const said = await errB;
    assertEquals(await outB, "");
    assertEquals(st.code, 2, said);
    assertMatch(said, /already holds a plan \(/);
    assertEquals(JSON.parse(await Deno.readTextFile(out)).id, planA, "A's plan replaced");
    assertEquals(
      [...Deno.readDirSync(`${tmp.path}/scan`)].filter((e) => e.name.includes("partial")),
      [],
      "B's temporary left",
    );

    // -o missing at C's start, another program's file made there while C
    // lists: kept, C exits 2
    await Deno.mkdir(`${tmp.path}/scan2`);
    const other = `${tmp.path}/scan2/other.json`;
    // (a loaded machine may let C end between the test seeing it list and
    // the test's write: C's plan is then there first, and the step is
    // tried again, never judged on a premise that did not hold)
    let stC: Deno.CommandStatus | undefined, saidC = "", outC = "";
    for (let attempt = 1; !stC; attempt++) {
      const c = spawnCli(["plan", fs.path, "--shards", "2", "-o", other]);
      const errP = new Response(c.stderr).text();
      const outP = new Response(c.stdout).text();
      // (a folder below ROOT open: the listing, which starts once -o was
      // looked at; ROOT may be open before that, and a file made then
      // was there when -o was looked at: replaced, as any other)
      const listingC = () => {
        try {
          for (const e of Deno.readDirSync(`/proc/${c.pid}/fd`)) {
            if (Deno.readLinkSync(`/proc/${c.pid}/fd/${e.name}`).startsWith(`${fs.path}/`)) {
              return true;
            }
          }
        } catch { /* ended, or the fd closed meanwhile */ }
        return false;
      };
      await waitFor(listingC, { what: "plan C listing the slow tree" });
      const first = await Deno.writeTextFile(other, "another program's data\n", { createNew: true })
        .then(() => true, (e) => {
          if (e instanceof Deno.errors.AlreadyExists && attempt < 5) return false;
          throw e;
        });
      const st = await c.status;
      [saidC, outC] = [await errP, await outP];
      if (first) stC = st;
      else await Deno.remove(other); // C was done first: again
    }
    assertEquals(outC, "");
    assertEquals(stC.code, 2, saidC);
    assertMatch(saidC, /other\.json was made by another process while this plan was made/);
    assertEquals(await Deno.readTextFile(other), "another program's data\n");
  },
});

Deno.test("plan: a folder below ROOT that cannot be listed for want of descriptors (EMFILE) fails the plan, saying ulimit -n; never taken as an unreadable folder, whose estimate the plan then misses (audit)", async () => {
  // it came back as a folder that could not be listed (EACCES's way): the
  // plan went on with `listed` and every estimate short, status 0, under
  // a low `ulimit -n` (a batch job's)
  await using tmp = await tempDir();
  const sub = `${tmp.path}/a`;
  await Deno.mkdir(`${sub}/b`, { recursive: true });
  // in a process of its own with a small limit (prlimit), whose every
  // descriptor it then takes: this one's limit may be a million
  const script = `${tmp.path}/emfile.ts`;
  await Deno.writeTextFile(
    script,
    `import { listFolder } from ${JSON.stringify(`${REPO}/lib/shard/list.ts`)};
const held = [];
for (;;) {
  try {
    held.push(Deno.openSync("/dev/null"));
  } catch (e) {
    if (e.code !== "EMFILE") throw e; // Deno's own error says EMFILE when none is left
    break;
  }
}
const out = await listFolder(${JSON.stringify(tmp.path)}, {
  path: new TextEncoder().encode(${JSON.stringify(sub)}),
  depth: 0,
}).then((l) => \`listed: \${JSON.stringify(l)}\`, (e) => \`threw: \${e.message}\`);
for (const f of held) f.close();
console.log(out);
`,
  );
  const r = await run("prlimit", ["--nofile=256", "--", Deno.execPath(), "run", "-A", script], {
    cwd: REPO,
  });
  assertEquals(r.code, 0, r.stderr);
  const outcome = r.text.trim();
  assertMatch(outcome, /^threw: .*Too many open files.*ulimit -n/, outcome);
  // with descriptors free again, the same folder lists as Deno.readDir sees it
  const l = await listFolder(tmp.path, { path: new TextEncoder().encode(sub), depth: 0 });
  assertEquals([l.error, l.count, l.dirs.length], [undefined, 1, foldersIn(sub).length]);
});

Deno.test("plan: folders of a chain past PATH_MAX, listed ahead by one walk for many of them: each listing is the one Python's os.scandir gives through fd-relative opens, and the plan counts every row", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/deep`;
  // A chain of 90 levels of 250-byte names (22 KB deep; PATH_MAX is
  // crossed at the 17th), a name not UTF-8 or with a newline on every
  // other level, a file and a folder with a file beside each; 200 files
  // in one deep folder and a small tree below another.
  const made = await python(
    `import os, sys, json
os.makedirs(sys.argv[1].encode()); fd = os.open(sys.argv[1].encode(), os.O_RDONLY)
for l in range(90):
    n = (b'\\xff%02d' if l % 4 == 1 else b'n\\n%02d' if l % 4 == 3 else b'c%02d') % l + b'y' * 246
    os.mkdir(n, dir_fd=fd); m = os.open(n, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    os.mkdir(b'side', dir_fd=fd); os.close(os.open(b'side/f', os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.close(os.open(b'f\\n', os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    if l == 40:
        for i in range(200): os.close(os.open(b'g%d' % i, os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    if l == 60:
        for a in (b'a', b'a/b', b'a/b/c\\xfe', b'd'): os.mkdir(a, dir_fd=fd)
    os.close(fd); fd = m
# the reference: each folder's names and subfolders (name, inode), reached
# from its parent's descriptor, never through a link
out = {}
def visit(fd, rel):
    names = list(os.scandir(fd))
    dirs = sorted([e.name.hex() if isinstance(e.name, bytes) else os.fsencode(e.name).hex(), e.inode()]
                  for e in names if e.is_dir(follow_symlinks=False))
    out[rel.hex()] = [len(names), dirs]
    for name, _ in dirs:
        c = os.open(bytes.fromhex(name), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        visit(c, rel + b'/' + bytes.fromhex(name) if rel else bytes.fromhex(name))
        os.close(c)
visit(os.open(sys.argv[1].encode(), os.O_RDONLY), b'')
print(json.dumps(out))`,
    root,
  );
  const want = JSON.parse(made) as Record<string, [number, [string, number][]]>;
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const rootBytes = new TextEncoder().encode(root);
  const st = await Deno.stat(root);
  // the planner's way: level by level, one DeepListings for the plan
  const deep = new DeepListings();
  let ahead = 0;
  const take = deep.take.bind(deep);
  deep.take = (t) => {
    const l = take(t);
    if (l) ahead++;
    return l;
  };
  const got: Record<string, [number, [string, number][]]> = {};
  let level: ListTarget[] = [{ path: rootBytes, depth: -1, id: { dev: st.dev, ino: st.ino! } }];
  while (level.length) {
    const next: ListTarget[] = [];
    for (const t of level) {
      const l = await listFolder(root, t, deep);
      assertEquals(l.error, undefined, hex(t.path));
      const dirs: [string, number][] = [];
      for (const d of l.dirs) {
        const path = joinPath(t.path, d.name);
        // (the native listing's device and inode; Deno's has none: lstat's)
        const ino = d.id?.ino ?? (await Deno.lstat(new TextDecoder().decode(path))).ino!;
        dirs.push([hex(d.name), ino]);
        next.push({ path, depth: t.depth + 1, id: d.id });
      }
      got[hex(t.path.subarray(rootBytes.length + 1))] = [l.count, dirs.sort()];
    }
    level = next;
  }
  assertEquals(got, want);
  assert(ahead > 80, `listings made ahead: ${ahead}`);
  // the plan's own listing of the tree: every row counted (the root's too)
  const p = await planShards(root, { shards: 4 });
  const folders = Object.keys(want).length;
  assertEquals(p.listed, folders);
  assertEquals(p.estimate.total, 1 + Object.values(want).reduce((a, [n]) => a + n, 0));
});

Deno.test("plan: the frontier in path byte order where one name starts another's (a, a-b, a0, and a/x below a split a)", async () => {
  await using tmp = await tempDir();
  const t = `${tmp.path}/t`;
  // "a" is split (its folders hold most rows): a/x, a/y sit between
  // "a-b" (0x2d < "/") and "a0" ("/" < 0x30) in byte order
  for (const d of ["a/x", "a/y", "a/xy", "a-b", "a0", "a b", "ab", "\u00e9", "a/\u00e9"]) {
    await Deno.mkdir(`${t}/${d}`, { recursive: true });
  }
  for (let i = 0; i < 40; i++) {
    for (const d of ["a/x", "a/y", "a/xy", "a/\u00e9"]) {
      await Deno.writeTextFile(`${t}/${d}/f${i}`, "");
    }
  }
  const plan = await planShards(t, { shards: 2, minFolders: 2 });
  const paths = plan.frontier.map((f) => pathOfJson(f));
  const rel = paths.map((p) => new TextDecoder().decode(p.subarray(t.length + 1)));
  assert(rel.includes("a/x") && rel.includes("a-b") && rel.includes("a0"), rel.join(" "));
  const bytewise = [...paths].sort((p, q) => Buffer.compare(p, q));
  assertEquals(paths, bytewise);
});
