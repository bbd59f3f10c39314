/**
 * How a command line is read, beyond the option parser itself:
 * - `--plan` (a shard) and `--chown_from`/`--chown_to` (chown) pick the
 *   command only as options: not as another option's value (`-o --plan`
 *   writes a file named --plan), nor after `--` (a ROOT named --plan is
 *   walked);
 * - an option that names where something is written, given twice, is bad
 *   usage (2, one line), nothing written: -o, --errors (report, a shard),
 *   --html, plan's -o, slurm's --out and --resume (the last one was kept
 *   silently, while repair refused a second --errors);
 * - plan --from reads each scan file once: the same file twice (by its
 *   name, a link, or a folder and its file) is bad usage, as summary's
 *   (it counted its rows twice: the estimates doubled).
 */
import { assert, assertEquals } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

const lines = (s: string) => s.split("\n").filter((l) => l !== "");

Deno.test("--plan and --chown_from as -o's value or after --: a report, as written", async () => {
  await using t = await tempDir();
  const cwd = t.path;
  await Deno.mkdir(`${cwd}/tree/a`, { recursive: true });
  for (const name of ["--plan", "--chown_from", "--chown_to"]) {
    // -o NAME: a file of that name, the report's
    for (const args of [["-o", name, "tree"], ["report", "-o", name, "tree"]]) {
      const r = await cli(args, { cwd });
      assertEquals(r.code, 0, r.stderr);
      const st = await Deno.lstat(`${cwd}/${name}`);
      assert(st.isFile);
      assertEquals(lines(await Deno.readTextFile(`${cwd}/${name}`)).length, 2); // tree, tree/a
      assertEquals(lines(r.stderr).length, 1, r.stderr);
      assert(lines(r.stderr)[0].endsWith(` -> ${name} (${st.size} B)`), r.stderr);
      await Deno.remove(`${cwd}/${name}`);
    }
    // -- NAME: the folder of that name walked
    await Deno.mkdir(`${cwd}/${name}`);
    const st = await Deno.lstat(`${cwd}/${name}`);
    for (const args of [["--", name], ["report", "--", name]]) {
      const r = await cli(args, { cwd });
      assertEquals(r.code, 0, r.stderr);
      const row = lines(r.text);
      assertEquals(row.length, 1, r.text);
      assert(row[0].startsWith(`${st.ino},0,-1,"${name}",`), row[0]);
    }
    await Deno.remove(`${cwd}/${name}`);
  }
});

Deno.test("an output option given twice: bad usage (2), one line, nothing written", async () => {
  await using t = await tempDir();
  const cwd = t.path;
  await Deno.mkdir(`${cwd}/tree/a`, { recursive: true });
  const scan = await cli(["--header", "-o", "s.csv", "tree"], { cwd });
  assertEquals(scan.code, 0, scan.stderr);
  await Deno.mkdir(`${cwd}/p`);
  const plan = await cli(["plan", "--shards", "2", "-o", "p/plan.json", "tree"], { cwd });
  assertEquals(plan.code, 0, plan.stderr);
  const before = new Set(Array.from(Deno.readDirSync(cwd), (e) => e.name));
  const cases: [string[], string][] = [
    [["-o", "a.csv", "-o", "b.csv", "tree"], "-o (--output)"],
    [["report", "--output", "a.csv", "-o=b.csv", "tree"], "-o (--output)"],
    [["-o", "a.csv", "--output=b.csv", "tree"], "--output"],
    [["--errors", "e1.csv", "--errors", "e2.csv", "tree"], "--errors"],
    [["summary", "--html", "a1.html", "--html", "a2.html", "s.csv"], "--html"],
    [["diff", "--html", "a1.html", "--html=a2.html", "s.csv", "s.csv"], "--html"],
    [["plan", "--shards", "2", "-o", "q1.json", "-o", "q2.json", "tree"], "-o (--output)"],
    [["slurm", "tree", "--shards", "2", "--out", "slA", "--out", "slB", "--dry-run"], "--out"],
    [["slurm", "--resume", "p", "--resume", "p", "--dry-run"], "--resume"],
    [
      ["report", "--plan", "p/plan.json", "--shard", "0", "-o", "x0.csv", "-o", "x1.csv"],
      "-o (--output)",
    ],
    [
      ["--plan", "p/plan.json", "--shard", "0", "--errors", "e1.csv", "--errors", "e2.csv"],
      "--errors",
    ],
  ];
  for (const [args, shown] of cases) {
    const r = await cli(args, { cwd });
    assertEquals(
      [r.code, lines(r.stderr)],
      [2, [`pwalk: ${shown} given twice: give it once`]],
      args.join(" "),
    );
    assertEquals(r.text, "", args.join(" "));
    const now = Array.from(Deno.readDirSync(cwd), (e) => e.name).filter((n) => !before.has(n));
    assertEquals(now, [], args.join(" "));
    assertEquals(Array.from(Deno.readDirSync(`${cwd}/p`), (e) => e.name), ["plan.json"]);
  }
  // a value that says how, not where, given twice: the last one taken
  const r = await cli(["--threads", "1", "--threads", "2", "-o", "c.csv", "tree"], { cwd });
  assertEquals(r.code, 0, r.stderr);
  assert((await Deno.lstat(`${cwd}/c.csv`)).isFile);
});

Deno.test("plan --from the same scan file twice: bad usage (2), no plan", async () => {
  await using t = await tempDir();
  const cwd = t.path;
  await Deno.mkdir(`${cwd}/tree/a`, { recursive: true });
  await Deno.mkdir(`${cwd}/scans`);
  const scan = await cli(["--header", "-o", "scans/s.csv", "tree"], { cwd });
  assertEquals(scan.code, 0, scan.stderr);
  await Deno.symlink("scans/s.csv", `${cwd}/link.csv`);
  const a = await Deno.stat(`${cwd}/link.csv`), b = await Deno.lstat(`${cwd}/scans/s.csv`);
  assertEquals([a.dev, a.ino], [b.dev, b.ino]); // the premise: one file
  const same = (x: string, y: string) =>
    `pwalk: --from: ${x} and ${y} are the same file: each file of a scan is read once`;
  const cases: [string[], string][] = [
    [
      ["--from", "scans/s.csv", "--from", "scans/s.csv"],
      "pwalk: --from scans/s.csv is given twice: each file of a scan is read once",
    ],
    [["--from", "scans/s.csv", "--from", "link.csv"], same("scans/s.csv", "link.csv")],
    [["--from", "scans", "--from=link.csv"], same("scans/s.csv", "link.csv")],
  ];
  for (const [from, line] of cases) {
    const args = ["plan", "--shards", "2", ...from, "-o", "plan.json", "tree"];
    const r = await cli(args, { cwd });
    assertEquals([r.code, lines(r.stderr), r.text], [2, [line], ""], args.join(" "));
    const names = Array.from(Deno.readDirSync(cwd), (e) => e.name).sort();
    assertEquals(names, ["link.csv", "scans", "tree"], "no plan written");
  }
  // each once: the plan is made from them
  const ok = await cli(["plan", "--shards", "2", "--from", "scans/s.csv", "tree"], { cwd });
  assertEquals(ok.code, 0, ok.stderr);
});

Deno.test("python-pwalk's spellings from habit (--max-threads, --format, --no-snapshots, the walk command): bad usage (2), one line naming what to use here, nothing written", async () => {
  await using t = await tempDir();
  const cwd = t.path;
  await Deno.mkdir(`${cwd}/tree/a`, { recursive: true });
  const cases: [string[], RegExp][] = [
    [["report", "--max-threads", "4", "-o", "out.csv", "tree"], /--threads N/],
    [["repair", "--max-threads", "4", "tree"], /--threads N/],
    [["--format", "csv", "-o", "out.csv", "tree"], /suffix picks the format/],
    [["--no-snapshots", "-o", "out.csv", "tree"], /--NoSnap/],
    [["walk", "tree"], /walkDirs\(\)/],
    // with no folder: "walk" taken for ROOT, which does not exist here
    [["walk"], /walk: No such file or directory \(python-pwalk's walk command: .*walkDirs\(\)/],
  ];
  for (const [args, want] of cases) {
    const r = await cli(args, { cwd });
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertEquals(lines(r.stderr).length, 1, r.stderr);
    assert(want.test(r.stderr), `${args.join(" ")}: ${r.stderr}`);
    assert(r.stderr.includes("python-pwalk"), r.stderr);
    assertEquals(r.stdout.length, 0);
    const names: string[] = [];
    for await (const e of Deno.readDir(cwd)) names.push(e.name);
    assertEquals(names, ["tree"], `${args.join(" ")}: nothing written`);
  }
  // an option of neither, or python-pwalk's where this command has not
  // what it would name (a summary has no -o whose suffix picks a format):
  // the plain line
  for (const args of [["--maxthread", "4", "tree"], ["summary", "--format", "csv", "x.csv"]]) {
    const r = await cli(args, { cwd });
    assertEquals(r.code, 2);
    assertEquals(r.stderr, `pwalk: unknown option ${args.at(-3)} (try --help)\n`);
  }
});
