/**
 * README names every public option and summary field of the Deno API: each
 * name the functions accept (their option-name lists, which checkOptionNames
 * enforces) and each field their summaries really hold (taken from a run,
 * not from a list written here) appears in a code span of README's section
 * about that function. An option the code takes and README leaves out is
 * one nobody can find without reading the source.
 */
import { assert, assertEquals } from "@std/assert";
import { chown, repair, report, undo } from "../mod.ts";
import { REPORT_OPTIONS } from "../lib/report.ts";
import { CHOWN_OPTIONS, REPAIR_OPTIONS } from "../lib/repair.ts";
import { UNDO_OPTIONS } from "../lib/undo.ts";
import { CHANGE_OPTIONS } from "../lib/cli/repair.ts";
import { cli, REPO } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

const readme = Deno.readTextFileSync(`${REPO}/README.md`);

/** README's `## TITLE` section, up to the next `## ` heading. */
function section(title: string): string {
  const parts = readme.split(`\n## ${title}\n`);
  assertEquals(parts.length, 2, `README has one "## ${title}" section`);
  return parts[1].split("\n## ")[0];
}

/**
 * Every identifier inside a code span of `text` (`{ journal, applied }`
 * gives both), outside its fenced blocks (examples, not the reference).
 */
function namesIn(text: string): Set<string> {
  const names = new Set<string>();
  const prose = text.replace(/^```[^]*?^```$/gm, "").replace(/\n/g, " ");
  for (const m of prose.matchAll(/`([^`]+)`/g)) {
    for (const id of m[1].matchAll(/[A-Za-z_$][\w$]*/g)) names.add(id[0]);
  }
  return names;
}

function assertNamed(where: string, text: string, names: Iterable<string>): void {
  const known = namesIn(text);
  const missing = [...names].filter((n) => !known.has(n));
  assert(missing.length === 0, `README's ${where} does not name: ${missing.join(", ")}`);
}

Deno.test("README's Deno API names every option report() takes and every field of its summary", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/tree`);
  const api = section("Deno API");
  assertNamed("Deno API (report options)", api, Object.keys(REPORT_OPTIONS));
  const s = await report(`${tmp.path}/tree`, { output: `${tmp.path}/s.csv` });
  assertNamed("Deno API (report's summary)", api, Object.keys(s));
});

Deno.test("README's Repair and chown names every option of repair(), chown() and undo(), and every field of their summaries", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  const text = section("Repair and chown");
  assertNamed("Repair and chown (repair options)", text, Object.keys(REPAIR_OPTIONS));
  assertNamed("Repair and chown (chown options)", text, Object.keys(CHOWN_OPTIONS));
  assertNamed("Repair and chown (undo options)", text, Object.keys(UNDO_OPTIONS));
  const r = await repair(root, { listChanges: true });
  assertNamed("Repair and chown (repair's summary)", text, Object.keys(r));
  // a uid nobody has: nothing changes, and the journal is written all the same
  const journal = `${tmp.path}/j`;
  const c = await chown(root, { from: 4_000_000_000, to: { uid: 1 }, apply: true, journal });
  assertNamed("Repair and chown (chown's summary)", text, Object.keys(c));
  const u = await undo(journal);
  assertNamed("Repair and chown (undo's summary)", text, Object.keys(u));
});

Deno.test("README names every field of pwalk status --json", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/tree`);
  await Deno.mkdir(`${tmp.path}/scan`);
  const plan = await cli([
    "plan",
    "--shards",
    "1",
    "-o",
    `${tmp.path}/scan/plan.json`,
    `${tmp.path}/tree`,
  ]);
  assertEquals(plan.code, 0, plan.stderr);
  const st = await cli(["status", "--json", `${tmp.path}/scan`]);
  assertEquals(st.code, 1, st.stderr); // not done: no shard ran
  const json = JSON.parse(st.text);
  const text = section("Scanning across a cluster");
  assertNamed("Scanning across a cluster (status --json)", text, Object.keys(json));
  assertNamed(
    "Scanning across a cluster (status --json, a shard)",
    text,
    Object.keys(json.shards[0]),
  );
});

Deno.test("chown's first stderr line is pwalk's 'chown UID_orig: ...', as README says, dry run or not", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  const said = /`(chown UID_orig: 1042 {2}UID_new: 2000 GID_new: 2000)`/.exec(
    section("Repair and chown").replace(/\s*\n\s*/g, " "),
  );
  if (said === null) throw new Error("README quotes pwalk's chown line");
  const line = said[1];
  for (const apply of [[], ["--apply", "--journal", `${tmp.path}/j`]]) {
    const r = await cli(["--chown_from", "1042", "--chown_to", "2000:2000", ...apply, root]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stderr.split("\n")[0], line);
  }
});

Deno.test("docs/repair.md's Options name every option pwalk repair takes (its parser's and its --help's)", async () => {
  const doc = Deno.readTextFileSync(`${REPO}/docs/repair.md`);
  const options = doc.split("\n## Options\n")[1].split("\n## ")[0];
  const help = (await cli(["repair", "--help"])).text;
  const helpNames = [...help.split("\nOptions:\n")[1].matchAll(/--([A-Za-z][\w-]*)/g)]
    .map((m) => m[1]);
  const names = new Set([...Object.keys(CHANGE_OPTIONS), ...helpNames]);
  names.delete("help");
  const missing = [...names].filter((n) => !options.includes(`--${n}`));
  assertEquals(missing, [], "docs/repair.md's Options leave them out");
});

Deno.test("convert's --level: default 3 in README as in its --help; refused for .csv.gz, which a report takes (1-9)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  const flat = readme.replace(/\s*\n\s*/g, " ");
  const help = (await cli(["convert", "--help"])).text.replace(/\s+/g, " ");
  const dflt = /--level N zstd level of \.csv\.zst and \.parquet output \(1-19, default (\d+)\)/
    .exec(help);
  if (dflt === null) throw new Error("convert --help states --level's default");
  assert(
    flat.includes(`\`.parquet\`, 1-19, **default ${dflt[1]}**`),
    `\`.parquet\`, 1-19, **default ${dflt[1]}**`,
  );
  assert(
    flat.includes(`\`pwalk convert\` writes \`.csv.zst\` and \`.parquet\` at level ${dflt[1]}`),
    `\`pwalk convert\` writes \`.csv.zst\` and \`.parquet\` at level ${dflt[1]}`,
  );
  // a report takes a gzip level; convert refuses one for a .csv.gz OUT, nothing written
  const scan = `${tmp.path}/s.csv.gz`;
  const r = await cli(["--header", "--level", "9", "-o", scan, root]);
  assertEquals(r.code, 0, r.stderr);
  const c = await cli(["convert", "--level", "9", scan, `${tmp.path}/c.csv.gz`]);
  assertEquals(c.code, 2, c.stderr);
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), [
    "s.csv.gz",
    "tree",
  ]);
  assert(flat.includes("a `.csv.gz` OUT takes no `--level`"), "a `.csv.gz` OUT takes no `--level`");
});
