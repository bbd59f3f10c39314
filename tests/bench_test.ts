/**
 * `deno task bench` without benchmarking: its option handling (every case
 * with --list, so nothing is built, measured, or dropped from the page
 * cache), how a failed run shows in its progress line and its table row
 * (bench.ts's pure functions), and bench/shards.sh on a small tree (as many
 * shards as the plan made; a failed shard's own error).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import {
  benchMode,
  cliCounts,
  coldNotes,
  coldPrereqs,
  CsvRecords,
  ensurePythonPwalk,
  entriesTitle,
  expectEntries,
  failureCell,
  type Measured,
  pwalkCsvRows,
  PYTHON_PWALK,
  type Row,
  runLine,
  runOnce,
  sharedGid,
  SKIPPED,
  table,
  usable,
  usePeakrss,
} from "../bench/bench.ts";
import { deno, REPO, run, runOk } from "./helpers/run.ts";
import { assertSameLines, unionLines, wholeLines } from "./helpers/shard.ts";
import { CC, PYTHON3, STRACE, testNeeding, ZSTD } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { waitFor } from "./helpers/wait.ts";

async function exists(p: string): Promise<boolean> {
  return await Deno.lstat(p).then(() => true, () => false);
}

const bench = (...args: string[]) => deno(["run", "-A", `${REPO}/bench/bench.ts`, ...args]);

Deno.test("bench: unknown options, tables that do not exist and --only names of no row are refused (exit 1, one line)", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /^bench: unknown option --bogus \(try --help\)\n$/],
    // a typo of --files, which would start the 1,000,000-file run
    [["--file", "20000"], /^bench: unknown option --file /],
    [["extra"], /^bench: no arguments, only options: extra/],
    [["--cold", "--shards"], /^bench: --cold and --shards make no table/],
    [["--cold", "--sweep"], /^bench: --cold and --sweep make no table/],
    [["--cold", "--slowfs"], /^bench: --cold and --slowfs make no table/],
    [["--sweep", "--shards"], /^bench: --sweep and --shards make no table/],
    [["--sweep", "--shards", "--slowfs"], /^bench: --sweep and --shards make no table/],
    [["--threads", "2,4"], /^bench: --threads is for --sweep or --slowfs .*the main table/],
    [["--shards", "--slowfs", "--threads", "8"], /^bench: --threads .*shards-slowfs table/],
    [["--sweep", "--counts", "2"], /^bench: --counts is for --shards: the sweep table/],
    [["--cold", "--delay-us", "100"], /^bench: --delay-us is for --slowfs: the cold table/],
    [["--only"], /^bench: --only needs row names/],
    [["--only", ","], /^bench: --only needs row names/],
    [["--shards", "--only", "shards-3"], /^bench: --only: no row named shards-3 \(rows: /],
    [["--cold", "--only", "find"], /^bench: --only: no row named find \(rows: limitwalk-2, /],
    [["--slowfs", "--only", "limitwalk-2"], /^bench: --only: no row named limitwalk-2 /],
    [["--shards", "--slowfs", "--only", "report-zst"], /^bench: --only: no row named report-zst /],
  ];
  for (const [args, msg] of cases) {
    // --list: were the refusal missing, the run would stop there, never measure
    const r = await bench(...args, "--list");
    assertEquals(r.code, 1, `${args.join(" ")}: ${r.stderr}${r.text}`);
    assertMatch(r.stderr, msg, args.join(" "));
    assertEquals(r.stderr.split("\n").length, 2, r.stderr);
    assertEquals(r.text, "", args.join(" "));
  }
  // the tables that exist list their own rows; --only takes their names
  const lists: [string[], string][] = [
    [
      ["--shards", "--counts", "2,8", "--only", "shards-8"],
      "limitwalk-2, report-zst-default, plan-8, shards-2, shards-8",
    ],
    [
      ["--shards", "--slowfs", "--counts", "4"],
      "limitwalk-32, report-zst-default, plan-4, shards-4",
    ],
    [
      ["--sweep", "--threads", "1,3"],
      "limitwalk-2, report-zst-default, report-zst-t1, report-zst-t3",
    ],
    [
      ["--slowfs", "--sweep", "--threads", "4", "--delay-us", "100"],
      "limitwalk-32, limitwalk-8, report-zst-default, report-zst-t4, limitwalk-2-local",
    ],
    [
      ["--cold", "--only", "fd,report-zst-t64"],
      "limitwalk-2, limitwalk-8, limitwalk-32, limitwalk-64, fd, report-zst-default, report-zst-native, report-zst-t32, report-zst-t64, deno-startup",
    ],
  ];
  for (const [args, names] of lists) {
    const r = await bench(...args, "--list");
    assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assertEquals(r.text, `${names}\n`, args.join(" "));
  }
  const main = await bench("--list");
  assertEquals(main.code, 0, main.stderr);
  assertStringIncludes(main.text, "limitwalk-2, report-zst, ");
  // the main rival's rows, by name (installed only when a run measures them)
  assertStringIncludes(main.text, ", python-pwalk-zst, python-pwalk-csv, ");
  // --help wins over a bad option
  const help = await bench("--bogus", "--help");
  assertEquals(help.code, 0, help.stderr);
  assertMatch(help.text, /^deno task bench \[options\]/);
});

Deno.test("bench: each table's title and file", () => {
  assertEquals(benchMode({}), { kind: "main", title: "", file: "main" });
  assertEquals(benchMode({ sweep: true }), { kind: "sweep", title: " --sweep", file: "sweep" });
  assertEquals(benchMode({ shards: true }), {
    kind: "shards",
    title: " --shards",
    file: "shards-local",
  });
  assertEquals(benchMode({ slowfs: true, sweep: true }, 200), {
    kind: "slowfs",
    title: " --slowfs",
    file: "slowfs-200us",
  });
  assertEquals(benchMode({ slowfs: true, shards: true }), {
    kind: "shards-slowfs",
    title: " --shards --slowfs",
    file: "shards-slowfs-500us",
  });
  assertEquals(benchMode({ cold: true }), { kind: "cold", title: " --cold", file: "cold" });
});

/** A row measured 3 times whose second run failed. */
function failedOnRun2(): Measured {
  const row: Row = { name: "report-zst", label: "pwalk report", stages: [["deno", "x"]] };
  return {
    row,
    walls: [1.1, 1.3],
    rss: [40, 41],
    sumRss: [40, 41],
    user: [0.5, 0.6],
    sys: [1, 1],
    failures: ["run 2: status 1: pwalk: TREE/a: a | in it\nsecond line"],
  };
}

Deno.test("bench: a row that fails on a later run says FAILED, in its line and its table row, with no median", () => {
  const m = failedOnRun2();
  assert(!usable(m));
  assertEquals(
    runLine(m, 2, 3, "status 1: pwalk: boom\nmore"),
    `bench: run 2/3 ${"report-zst".padEnd(22)} FAILED: status 1: pwalk: boom\n    more`,
  );
  assertEquals(
    failureCell(m),
    "FAILED in 1 of 3 runs (run 2: status 1: pwalk: TREE/a: a \\| in it / second line); " +
      "the other 2 took 1.10-1.30 s",
  );
  const ok: Measured = {
    row: { name: "limitwalk-2", label: "limitwalk", stages: [["limitwalk"]] },
    walls: [1, 1, 1],
    rss: [2, 2, 2],
    sumRss: [2, 2, 2],
    user: [0, 0, 0],
    sys: [2, 2, 2],
    failures: [],
  };
  assertEquals(runLine(ok, 3, 3, null), `bench: run 3/3 ${"limitwalk-2".padEnd(22)} 1.00 s, 2 MiB`);
  const t = table([ok, m], "limitwalk-2").split("\n");
  assertEquals(t.length, 4);
  // every row has the table's 9 cells (the | in the error escaped)
  for (const l of t) assertEquals(l.split(/(?<!\\)\|/).length, 11, l);
  assertMatch(
    t[3],
    /^\| report-zst \| pwalk report<br>`deno x` \| - \| - \| - \| - \| - \| - \| FAILED in 1 of 3 runs /,
  );
  assert(!t[3].includes("1.20"), "no median of the runs that survived");
  assertMatch(t[2], /^\| limitwalk-2 \| .* \| 1\.00 \| 1\.00-1\.00 \|/);
});

testNeeding([PYTHON3, ZSTD], {
  name:
    "bench/shards.sh: runs the shards the plan made (fewer than asked), and shows a failed shard's own error",
  async fn() {
    await using tmp = await tempDir();
    const tree = `${tmp.path}/tree`;
    for (const d of ["a/b", "c", "d/e/f"]) await Deno.mkdir(`${tree}/${d}`, { recursive: true });
    for (const f of ["a/b/f", "c/g", "d/e/f/h", "top"]) await Deno.writeTextFile(`${tree}/${f}`, f);
    await wholeLines(tree); // settle folder atimes (relatime: the first listing sets them)
    const expected = await wholeLines(tree);
    const out = `${tmp.path}/out`;
    const shards = (denoExe: string, env?: Record<string, string>) =>
      run("sh", [`${REPO}/bench/shards.sh`, denoExe, REPO, tree, "8", out], { env });
    // the distribution's Python, not the first python3 on PATH (a pyenv shim, timed with the row)
    const bin = `${tmp.path}/bin`;
    await Deno.mkdir(bin);
    await Deno.writeTextFile(`${bin}/python3`, "#!/bin/sh\necho not this python3 >&2\nexit 9\n");
    await Deno.chmod(`${bin}/python3`, 0o755);
    const path = `${bin}:${Deno.env.get("PATH")}`;
    const r = await shards(
      Deno.execPath(),
      (await exists("/usr/bin/python3")) ? { PATH: path } : {},
    );
    assertEquals(r.code, 0, r.stderr);
    const made = JSON.parse(await Deno.readTextFile(`${out}/plan.json`)).shards as number;
    assert(made >= 2 && made < 8, `a plan of ${made} shards`);
    assertEquals(r.text, `plan made ${made} of 8 shards\n`);
    assertEquals(r.stderr, "");
    const files = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) =>
      /^scan-\d+\.csv\.zst$/.test(n)
    );
    assertEquals(files.sort(), Array.from({ length: made }, (_, i) => `scan-${i}.csv.zst`).sort());
    assertSameLines(await unionLines(out, made), expected, "the shards' union");
    // shard 1 fails; the others succeed and say so on their stderr
    const fake = `${tmp.path}/deno`;
    await Deno.writeTextFile(
      fake,
      `#!/bin/sh\ncase " $* " in *" --shard 1 "*) echo "shard one broke" >&2; exit 3;; esac\nexec ${Deno.execPath()} "$@"\n`,
    );
    await Deno.chmod(fake, 0o755);
    const f = await shards(fake);
    assertEquals(f.code, 1, f.stderr);
    assertEquals(f.stderr, `shards.sh: shard 1 of ${made} failed (status 3):\nshard one broke\n`);
  },
});

testNeeding([PYTHON3, STRACE], {
  name:
    "bench/change_syscalls.sh: a row per run, the calls per entry by name adding up to its total; its trees removed",
  async fn() {
    // its own TMPDIR: another run's trees in /tmp (a second suite running
    // beside this one) are not taken for this run's
    await using tmp = await tempDir();
    // trees of 200 and 1,000 files, not the 1,000 and 5,000 of README's
    // figures: the 800 entries between them already give each named call
    // per entry within a few hundredths of those figures (futex aside, which
    // varies from run to run at either size)
    const r = await run("bash", [`${REPO}/bench/change_syscalls.sh`], {
      env: { PWALK_SYSCALLS_FILES: "200 1000", TMPDIR: tmp.path },
    });
    assertEquals(r.code, 0, r.stderr);
    const rows = r.text.trimEnd().split("\n");
    assertEquals(
      rows.map((l) => l.split(/\s+/)[0]),
      ["repair-dry", "repair-apply", "chown-dry", "chown-apply", "undo"],
    );
    for (const row of rows) {
      const m = /^\S+\s+([\d.]+) per entry:((?: \S+ [\d.]+)*)$/.exec(row);
      if (!m) throw new Error(`not a row: ${row}`);
      const parts = m[2].trim().split(" ");
      let named = 0;
      for (let i = 1; i < parts.length; i += 2) named += Number(parts[i]);
      // every change is at least a call; calls below 0.05 an entry are not
      // named (less than one an entry in all), and a count that differs by
      // run (futex, epoll on a loaded machine: fewer in the larger run) takes
      // some away from the total, never from the names
      assert(Number(m[1]) >= 1, row);
      assert(Number(m[1]) - named < 1, `${row}: most of it named`);
    }
    assertEquals([...Deno.readDirSync(tmp.path)], [], "its trees left");
  },
});

testNeeding([CC], {
  name:
    "bench: the title and the rows count the tree alike, ROOT included (walk-api, walkdirs, readdir-lstat)",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    for (const d of ["a", "a/b", "c"]) await Deno.mkdir(`${root}/${d}`, { recursive: true });
    for (const f of ["f", "a/g", "a/b/h", "c/i"]) await Deno.writeTextFile(`${root}/${f}`, f);
    await Deno.symlink("f", `${root}/l`);
    // the reference: Deno's own listing, below ROOT, and ROOT
    let below = 0, folders = 1;
    const list = (dir: string) => {
      for (const e of Deno.readDirSync(dir)) {
        below++;
        if (e.isDirectory) {
          folders++;
          list(`${dir}/${e.name}`);
        }
      }
    };
    list(root);
    const json = async (script: string, ...args: string[]) => {
      const r = await deno(["run", "-A", `${REPO}/bench/${script}`, root, ...args]);
      assertEquals(r.code, 0, r.stderr);
      return JSON.parse(r.text);
    };
    const lstat = await json("readdir_lstat.ts");
    assertEquals([lstat.entries, lstat.folders], [below + 1, folders]);
    assertEquals((await json("walk_api.ts")).entries, below + 1);
    assertEquals((await json("walkdirs_api.ts", "names")).folders, folders);
    // limitwalk's count is the entries below ROOT: the title adds ROOT and says so
    const limitwalk = `${tmp.path}/limitwalk`;
    await runOk("cc", ["-O1", "-pthread", "-o", limitwalk, `${REPO}/bench/limitwalk.c`]);
    const counted = Number(/^(\d+) entries$/m.exec((await runOk(limitwalk, [root, "2"])).text)![1]);
    assertEquals(counted, below);
    assertEquals(entriesTitle(counted), `${below + 1} entries (ROOT included)`);
  },
});

/** A row's runs so far: none. */
function fresh(row: Row): Measured {
  return { row, walls: [], rss: [], sumRss: [], user: [], sys: [], failures: [] };
}

/** bench/peakrss.c compiled into `dir`, which runOnce then uses for its result files. */
async function peakrssIn(dir: string): Promise<void> {
  const bin = `${dir}/peakrss`;
  await runOk("cc", ["-O1", "-o", bin, `${REPO}/bench/peakrss.c`]);
  usePeakrss(bin, dir);
}

testNeeding([CC], {
  name:
    "bench: a run whose peakrss dies without a result fails, whatever result file an earlier run left",
  async fn() {
    await using tmp = await tempDir();
    await peakrssIn(tmp.path);
    const ok = fresh({ name: "true", label: "true", stages: [["true"]] });
    assertEquals(await runOnce(ok.row, ok), null);
    assertEquals(ok.walls.length, 1);
    // the row kills peakrss, its parent, before peakrss can write a result:
    // the result file of the run before is still there when runOnce does not remove it
    const killed = fresh({
      name: "kills-peakrss",
      label: "kills peakrss",
      stages: [["sh", "-c", "kill -KILL $PPID; sleep 1"]],
    });
    const why = await runOnce(killed.row, killed);
    assert(why !== null, "a run without a result of its own counts as a success");
    assertMatch(why, /^peakrss wrote no result \(killed by SIGKILL\)/);
    assertEquals(killed.walls, []);
  },
});

testNeeding([CC], {
  name:
    "bench: a run that walked another number of entries than the tree holds, or met errors, fails",
  async fn() {
    await using tmp = await tempDir();
    await peakrssIn(tmp.path);
    const tree = `${tmp.path}/tree`;
    for (const d of ["a/b", "c"]) await Deno.mkdir(`${tree}/${d}`, { recursive: true });
    for (const f of ["a/b/f", "c/g", "top"]) await Deno.writeTextFile(`${tree}/${f}`, f);
    let below = 0;
    const list = (dir: string) => {
      for (const e of Deno.readDirSync(dir)) {
        below++;
        if (e.isDirectory) list(`${dir}/${e.name}`);
      }
    };
    list(tree);
    const report: Row = {
      name: "report-zst",
      label: "pwalk report",
      stages: [[
        Deno.execPath(),
        "run",
        "-A",
        `${REPO}/cli.ts`,
        "-o",
        `${tmp.path}/o.csv.zst`,
        tree,
      ]],
      counts: cliCounts,
    };
    try {
      expectEntries(below + 1);
      const ok = fresh(report);
      assertEquals(await runOnce(report, ok), null);
      // the same run against a tree of one entry more: it did not walk all of it
      expectEntries(below + 2);
      const short = fresh(report);
      const why = await runOnce(report, short);
      assertMatch(
        why ?? "",
        new RegExp(`^walked ${below + 1} entries of the tree's ${below + 2}: `),
      );
      assertEquals(short.walls, []);
      // a run that counts errors, and all the entries
      const errs: Row = {
        name: "errors",
        label: "errors",
        stages: [["sh", "-c", `echo '{"entries":${below + 1},"errors":2}'`]],
        counts: (out) => JSON.parse(out),
      };
      expectEntries(below + 1);
      assertEquals(
        await runOnce(errs, fresh(errs)),
        `2 errors: {"entries":${below + 1},"errors":2}`,
      );
      // a row that should print counts and printed none
      const silent: Row = {
        name: "silent",
        label: "silent",
        stages: [["true"]],
        counts: cliCounts,
      };
      assertEquals(await runOnce(silent, fresh(silent)), "printed no entry count");
    } finally {
      expectEntries(undefined);
    }
  },
});

Deno.test("bench: the repair-dry tree's root gets a group repair takes as shared (not 0, not its owner's)", () => {
  const etc = "root:x:0:\ndaemon:x:1:\nalice:x:1000:\nusers:x:100:\n";
  assertEquals(sharedGid(0, 0, [0], etc), 100);
  assertEquals(sharedGid(0, 0, [0], "root:x:0:\ndaemon:x:1:\n"), 1);
  assertEquals(sharedGid(1000, 0, [0], "root:x:0:\nalice:x:1000:\n"), null);
  // not root: only a group of one's own
  assertEquals(sharedGid(1000, 1000, [1000, 27], etc), 27);
  assertEquals(sharedGid(1000, 1000, [1000], etc), null);
});

testNeeding([CC, PYTHON3, ZSTD], {
  name:
    "bench: the summary and diff rows read scans of the tree in the title, made again for another tree",
  async fn() {
    await using tmp = await tempDir();
    const env = { PWALK_BENCH_WORK: tmp.path };
    const table = async (files: number) => {
      const args = ["--files", String(files), "--runs", "1", "--only", "summary,diff"];
      const r = await deno(["run", "-A", `${REPO}/bench/bench.ts`, ...args], { env });
      assertEquals(r.code, 0, r.stderr);
      // PWALK_BENCH_WORK's own path, not a part of it
      assertStringIncludes(r.stderr, `table also written to ${tmp.path}/bench-main-${files}.md\n`);
      return r.text;
    };
    /** Rows of a header scan file: its lines less the header. */
    const rows = async (f: string) =>
      (await runOk("zstd", ["-dc", f])).text.split("\n").filter(Boolean).length - 1;
    /** Entries of a tree, ROOT included: Deno's own listing. */
    const entries = (dir: string): number => {
      let n = 1;
      for (const e of Deno.readDirSync(dir)) {
        n += e.isDirectory ? entries(`${dir}/${e.name}`) : 1;
      }
      return n;
    };
    // tree-20 again: built before the scans of tree-30, which are newer than it
    for (const files of [20, 30, 20]) {
      const text = await table(files);
      const tree = `${tmp.path}/tree-${files}-s7`;
      assertStringIncludes(text, `under ${tree}\n`);
      const summary = /^\| summary \|.*`deno run -A cli.ts summary --json (\S+)`/m.exec(text)?.[1];
      const diff = /^\| diff \|.*`deno run -A cli.ts diff --json (\S+) (\S+)`/m.exec(text);
      if (!summary || !diff) throw new Error(`no summary and diff rows in:\n${text}`);
      assertEquals(diff[1], summary);
      for (const f of [summary, diff[2]]) {
        assertEquals(await rows(f), entries(tree), `${f} is a scan of ${tree}`);
      }
    }
  },
});

Deno.test("bench --cold: no notes about the default report when it was not measured (--only), no NaN", () => {
  const m = (name: string, walls: number[], failures: string[] = []): Measured => ({
    row: { name, label: name, stages: [[name]] },
    walls,
    rss: walls.map(() => 1),
    sumRss: walls.map(() => 1),
    user: walls.map(() => 1),
    sys: walls.map(() => 1),
    failures,
  });
  const lw = m("limitwalk-2", [2]), fd = m("fd", [1]), start = m("deno-startup", [0.1]);
  const notes = coldNotes([lw, fd, start]);
  assertEquals(notes, []);
  assertEquals(coldNotes([lw, fd, m("report-zst-default", [3], ["run 1: status 1: x"])]), []);
  const measured = coldNotes([lw, fd, start, m("report-zst-default", [3])]);
  assert(measured.length > 0 && measured.every((l) => !l.includes("NaN")), measured.join("\n"));
  assertStringIncludes(measured[0], "report-zst-default: 1.50x of it");
});

Deno.test("bench: a table this machine cannot make is skipped with its reason and exit status 77, not 0", async () => {
  await using tmp = await tempDir();
  // a PATH of sh alone: no pkg-config, no fusermount3
  await Deno.symlink("/bin/sh", `${tmp.path}/sh`);
  const r = await deno(["run", "-A", `${REPO}/bench/bench.ts`, "--slowfs", "--files", "5"], {
    env: { PATH: tmp.path, PWALK_BENCH_WORK: `${tmp.path}/work` },
  });
  assertEquals(SKIPPED, 77);
  assertEquals(r.code, SKIPPED, r.stderr);
  assertMatch(r.stderr, /^bench --slowfs: skipped: missing pkg-config, fuse3: /);
  assertEquals(r.text, "");
  // --cold as another user than root: why, on the same path to the same status
  assertEquals(await coldPrereqs(65534), "dropping the page cache needs root");
});

testNeeding([CC], {
  name: "bench/peakrss.c: SIGINT goes on to the command, and the run still writes its result",
  async fn() {
    await using tmp = await tempDir();
    const bin = `${tmp.path}/peakrss`;
    await runOk("cc", ["-O1", "-o", bin, `${REPO}/bench/peakrss.c`]);
    const res = `${tmp.path}/result`, pidFile = `${tmp.path}/pid`;
    const child = new Deno.Command(bin, {
      args: ["-r", res, "--", "sh", "-c", `echo $$ > ${pidFile}; exec sleep 60`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    while (!(await Deno.readTextFile(pidFile).catch(() => "")).endsWith("\n")) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const cmd = Number((await Deno.readTextFile(pidFile)).trim());
    child.kill("SIGINT");
    const st = await child.status;
    assertEquals(st.code, 130);
    assertMatch(await Deno.readTextFile(res), / status=130\n$/);
    // the command is gone (its pid no longer a process of ours: /proc has no such entry)
    assertEquals(await exists(`/proc/${cmd}`), false);
  },
});

testNeeding([CC, PYTHON3], {
  name:
    "bench: SIGINT stops the runs and the bench (exit 130, no table) and removes the plain CSV unless --keep",
  async fn() {
    await using tmp = await tempDir();
    const args = ["--files", "20", "--runs", "1000", "--only", "report-csv-file"];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO}/bench/bench.ts`, ...args],
      cwd: REPO,
      env: { PWALK_BENCH_WORK: tmp.path, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = new Response(child.stdout).text();
    let err = "";
    const dec = new TextDecoder();
    const reader = child.stderr.getReader();
    // two runs of the CSV row are done: their report.csv is there
    while (!/run 2\/1000 report-csv-file/.test(err)) {
      const { value, done } = await reader.read();
      if (done) break;
      err += dec.decode(value);
    }
    // the signal sent while a report.csv is there (between a run's end and
    // the next one's start, which removes it first: the yardstick's run
    // between them, a few ms; seen, not assumed)
    const csv = `${tmp.path}/out/report.csv`;
    const seen = () => {
      try {
        Deno.lstatSync(csv);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(seen, { what: "a run's report.csv", everyMs: 1, detail: () => err });
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      err += dec.decode(value);
    }
    const st = await child.status;
    assertEquals(st.code, 130, err);
    assertStringIncludes(err, "bench: interrupted (SIGINT)");
    assertEquals(await out, "");
    assertEquals(await exists(`${tmp.path}/out/report.csv`), false, "report.csv left");
  },
});

/** A row measured once, every figure 1. */
const once = (row: Measured["row"]): Measured => ({
  row,
  walls: [1],
  rss: [1],
  sumRss: [1],
  user: [1],
  sys: [1],
  failures: [],
});

Deno.test("bench: a row whose command has a script of several lines is one line of the table, its line ends as \\n", () => {
  const m = once({
    name: "os-walk",
    label: "os.walk",
    stages: [["python3", "-c", "import os\nprint(1)", "TREE"]],
  });
  const t = table([m], "limitwalk-2").split("\n");
  assertEquals(t.length, 3, t.join("\n"));
  assertStringIncludes(t[2], "`python3 -c 'import os\\nprint(1)' TREE`");
});

Deno.test("bench: a table shows the checkout as . (the commands' folder) and deno as deno", () => {
  const m = once({
    name: "shards-2",
    label: "shards",
    stages: [["sh", `${REPO}/bench/shards.sh`, Deno.execPath(), REPO, "TREE", "2"]],
  });
  assertStringIncludes(table([m], "limitwalk-2"), "`sh bench/shards.sh deno . TREE 2`");
});

const HEADER =
  'inode,parent-inode,directory-depth,"filename","fileExtension",UID,GID,st_size,st_dev,st_blocks,st_nlink,"st_mode",st_atime,st_mtime,st_ctime,pw_fcount,pw_dirsum\n';
/** Three python-pwalk rows (ROOT's and two files), one name with a line end and a quote. */
const PY_ROWS = [
  '2,0,-1,"t","",0,0,4096,1,8,2,"40755",1,1,1,2,6\n',
  '3,2,-1,"new\nline ""q"", c.txt","txt",0,0,3,1,8,1,"100644",1,1,1,-1,0\n',
  '4,2,-1,"b","",0,0,3,1,8,1,"100644",1,1,1,-1,0\n',
].join("");

Deno.test("bench: CsvRecords counts records, not lines: a line end in quotes is no row's end, in any chunking", () => {
  const bytes = new TextEncoder().encode(PY_ROWS);
  for (const cut of [0, 1, 20, 21, 22, 50, bytes.length]) {
    const c = new CsvRecords();
    c.push(bytes.subarray(0, cut));
    c.push(bytes.subarray(cut));
    assertEquals(c.records, 3, `cut at ${cut}`);
  }
});

testNeeding([ZSTD], {
  name:
    "bench: python-pwalk's files are counted as it writes them: a plain header line, then plain CSV or a zstd stream",
  async fn() {
    await using tmp = await tempDir();
    const plain = `${tmp.path}/plain.csv`;
    await Deno.writeTextFile(plain, HEADER + PY_ROWS);
    assertEquals(await pwalkCsvRows(plain, "zstd"), { entries: 3 });
    // python-pwalk 0.1.6 with compress='zstd': the header uncompressed, the rows a zstd frame
    const body = `${tmp.path}/body.csv`;
    await Deno.writeTextFile(body, PY_ROWS);
    await runOk("zstd", ["-q", "-1", body, "-o", `${body}.zst`]);
    const mixed = `${tmp.path}/mixed.csv`;
    const frame = await Deno.readFile(`${body}.zst`);
    await Deno.writeFile(mixed, new Uint8Array([...new TextEncoder().encode(HEADER), ...frame]));
    assertEquals(
      (await run("zstd", ["-dc", mixed])).code !== 0,
      true,
      "zstd -d refuses such a file",
    );
    assertEquals(await pwalkCsvRows(mixed, "zstd"), { entries: 3 });
    // no header at all (pwalk's own .csv.zst without --header): every record is a row
    assertEquals(await pwalkCsvRows(`${body}.zst`, "zstd"), { entries: 3 });
    // a zstd stream cut short cannot be counted; nor one without zstd to read it
    await Deno.writeFile(
      mixed,
      new Uint8Array([...new TextEncoder().encode(HEADER), ...frame.subarray(0, 12)]),
    );
    assertEquals(await pwalkCsvRows(mixed, "zstd"), null);
    assertEquals(await pwalkCsvRows(`${body}.zst`, null), null);
  },
});

testNeeding([CC], {
  name: "bench: a row counted in its output file fails when the file holds another number of rows",
  async fn() {
    await using tmp = await tempDir();
    await peakrssIn(tmp.path);
    const out = `${tmp.path}/scan.csv`;
    const row: Row = {
      name: "python-pwalk-csv",
      label: "writes three rows",
      stages: [["sh", "-c", `printf '%s' '${HEADER + PY_ROWS.replaceAll("'", "'\\''")}' > ${out}`]],
      output: out,
      outputCounts: (f) => pwalkCsvRows(f, null),
    };
    try {
      expectEntries(3);
      const ok = fresh(row);
      assertEquals(await runOnce(row, ok), null);
      assertEquals(ok.walls.length, 1);
      expectEntries(4);
      const short = fresh(row);
      assertEquals(
        await runOnce(row, short),
        `walked 3 entries of the tree's 4 (in ${out})`,
      );
      assertEquals(short.walls, []);
    } finally {
      expectEntries(undefined);
    }
  },
});

testNeeding([PYTHON3], {
  name:
    "bench: python-pwalk is installed once per Python, and a Python that cannot install it gives one line why",
  async fn() {
    await using tmp = await tempDir();
    const real = (await runOk("sh", ["-c", "command -v python3"])).text.trim();
    // a python3 whose pip "installs" a pwalk module of the pinned version, and counts its installs
    const fake = `${tmp.path}/python3`;
    await Deno.writeTextFile(
      fake,
      `#!/bin/sh
if [ "$1" = -m ] && [ "$2" = pip ]; then
  while [ $# -gt 0 ] && [ "$1" != --target ]; do shift; done
  mkdir -p "$2/pwalk" && echo '__version__ = "${PYTHON_PWALK}"' > "$2/pwalk/__init__.py"
  echo x >> ${tmp.path}/installs
  exit 0
fi
exec ${real} "$@"
`,
    );
    await Deno.chmod(fake, 0o755);
    const dir = `${tmp.path}/python-pwalk`;
    assertEquals(await ensurePythonPwalk(fake, dir), { dir });
    assertEquals(await ensurePythonPwalk(fake, dir), { dir });
    assertEquals(await Deno.readTextFile(`${tmp.path}/installs`), "x\n", "installed once");
    // another Python: installed again for it (a wheel fits one interpreter)
    const other = `${tmp.path}/python3-other`;
    await Deno.copyFile(fake, other);
    await Deno.chmod(other, 0o755);
    assertEquals(await ensurePythonPwalk(other, dir), { dir });
    assertEquals(await Deno.readTextFile(`${tmp.path}/installs`), "x\nx\n");
    // a Python without pip: no rows, and why, in one line
    const nopip = `${tmp.path}/python3-nopip`;
    await Deno.writeTextFile(
      nopip,
      `#!/bin/sh
if [ "$1" = -m ]; then echo "$0: No module named $2" >&2; exit 1; fi
exec ${real} "$@"
`,
    );
    await Deno.chmod(nopip, 0o755);
    assertEquals(await ensurePythonPwalk(nopip, `${tmp.path}/none`), {
      why: `${nopip} -m pip install pwalk==${PYTHON_PWALK} failed: ${nopip}: No module named pip`,
    });
  },
});
