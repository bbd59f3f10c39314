/**
 * repair's and chown's safety checks under the Deno permissions README
 * documents (`--allow-ffi --allow-read --allow-env`, and the three more for
 * a journal), not only under `--allow-all`: Deno refuses /proc (and /dev,
 * /sys) to a script without --allow-all, and a scoped `--allow-read` hides
 * the folders above ROOT. A check that cannot look must refuse, never pass
 * as "nothing there": the mount table is read through the C library, and a
 * refused look is the run's refusal, before anything is made or changed.
 *
 * References: the refusals under -A (the same lines), lstat snapshots of
 * the tree, and the folders and files that must not appear.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { cli, cliInMountNamespace, deno, REPO, run } from "./helpers/run.ts";
import { SCRIPT, testNeeding } from "./helpers/system.ts";
import { canMountTmpfs, tempDir } from "./helpers/temp.ts";
import { buildTree, diffSnapshots, type EntrySpec, G, snapshot } from "./helpers/repair_tree.ts";
import { spillPrefix } from "../lib/answers/duck.ts";

/** README: "These three suffice for ... the dry runs of repair and chown". */
const THREE = ["--no-prompt", "--allow-ffi", "--allow-read", "--allow-env"];
/** README: the journal of --apply "also need[s]" these. */
const SIX = [...THREE, "--allow-write", "--allow-sys", "--allow-run"];

const PROJECT: EntrySpec = { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 };
const file = (rel: string): EntrySpec => ({ rel, type: "file", uid: 1042, gid: 1042, mode: 0o600 });
const dir = (rel: string): EntrySpec => ({ rel, type: "dir", uid: 1042, gid: 1042, mode: 0o700 });

const ls = (d: string) => [...Deno.readDirSync(d)].map((e) => e.name).sort();

Deno.test({
  name:
    "repair and chown with README's permissions, not --allow-all: a system folder bind-mounted elsewhere is refused as under -A (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-perm-");
    const doc = `${tmp.path}/doc`;
    Deno.mkdirSync(doc);
    const setup = `mount --bind -o ro /usr/share "${doc}"`;
    for (const perms of [["-A"], THREE]) {
      for (
        const args of [["repair", doc], ["chown", "--chown_from", "0", "--chown_to", "1:1", doc]]
      ) {
        const r = await cliInMountNamespace(setup, args, {}, perms);
        assertEquals([r.code, r.text], [2, ""], `${perms} ${args[0]}: ${r.stderr}`);
        assertMatch(r.stderr, /: a system folder \(\/usr\/share, below \/usr, through a mount\); /);
      }
    }
  },
});

Deno.test({
  name:
    "repair --apply with README's permissions: a journal or errors file in a folder of the tree bind-mounted elsewhere is refused, nothing changed (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-perm-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [PROJECT, dir("u"), file("u/f")]);
    const alias = `${tmp.path}/alias`;
    Deno.mkdirSync(alias);
    const before = snapshot(root);
    const setup = `mount --bind "${root}/u" "${alias}"`;
    for (const perms of [["-A"], SIX]) {
      for (
        const [opt, what] of [["--journal", "the journal"], ["--errors", "--errors"]] as const
      ) {
        const name = `${alias}/${opt.slice(2)}.out`;
        const args = ["repair", "--apply", opt, name, root];
        if (opt === "--errors") args.splice(2, 0, "--journal", `${tmp.path}/j-${perms.length}`);
        const r = await cliInMountNamespace(setup, args, {}, perms);
        assertEquals(r.code, 2, `${perms} ${opt}: ${r.stderr}`);
        assertMatch(r.stderr, new RegExp(`^pwalk: ${what} .* would be inside the tree `, "m"));
        assertEquals(diffSnapshots(before, snapshot(root)), [], `${perms} ${opt}`);
        assertEquals(ls(`${root}/u`), ["f"], `${perms} ${opt}`);
      }
    }
  },
});

Deno.test("repair --apply with --allow-read scoped to ROOT and the library: refused for want of a look above ROOT, before anything is made or changed (review)", async () => {
  await using tmp = await tempDir("pwalk-perm-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, file("f")]);
  const before = snapshot(root);
  const lib = `${REPO}/zig-out/lib/libpwalk.so`;
  assert(Deno.statSync(lib).isFile, "the library is built");
  // a HOME another user owns, whose .local leads elsewhere: with a full
  // --allow-read refused as untrusted; scoped, it must not pass unlooked
  const home = `${tmp.path}/home`;
  const elsewhere = `${tmp.path}/elsewhere`;
  Deno.mkdirSync(home);
  Deno.mkdirSync(elsewhere);
  Deno.chownSync(home, 1042, 1042);
  Deno.chmodSync(home, 0o777);
  Deno.symlinkSync(elsewhere, `${home}/.local`);
  // a link inside the tree as the journal's folder: with a full
  // --allow-read refused as inside the tree
  Deno.symlinkSync(root, `${tmp.path}/plink`);
  const scoped = [...SIX.filter((p) => p !== "--allow-read"), `--allow-read=${lib},${root}`];
  for (
    const [args, full] of [
      [
        ["repair", "--apply", root],
        /^pwalk: journal folder .* is owned by uid 1042, not by you or root/m,
      ],
      [
        ["repair", "--apply", "--journal", `${tmp.path}/plink/x.journal`, root],
        /^pwalk: the journal .* would be inside the tree /m,
      ],
    ] as const
  ) {
    const env = { HOME: home, XDG_STATE_HOME: "" };
    const a = await deno(["run", ...SIX, `${REPO}/cli.ts`, ...args], { env });
    assertEquals(a.code, 2, a.stderr);
    assertMatch(a.stderr, full);
    const r = await deno(["run", ...scoped, `${REPO}/cli.ts`, ...args], { env });
    assert(r.code !== 0, r.stderr);
    assertMatch(
      r.stderr,
      /^pwalk: Requires read access to "[^"]*", run again with the --allow-read flag$/m,
    );
    assertEquals(diffSnapshots(before, snapshot(root)), [], args.join(" "));
    assertEquals(ls(root), ["f"]);
    assertEquals(ls(elsewhere), [], "nothing made through the other user's link");
  }
});

/** Fake sbatch (job 77, logging the SBATCH_ variables it sees) and squeue (task 0 running) in `bin`. */
function fakeSlurm(bin: string, log: string): Record<string, string> {
  Deno.mkdirSync(bin);
  Deno.writeTextFileSync(
    `${bin}/sbatch`,
    `#!/bin/sh\necho "name=\${SBATCH_JOB_NAME-unset} out=\${SBATCH_OUTPUT-unset}" >> ${log}\necho 77\n`,
  );
  Deno.writeTextFileSync(`${bin}/squeue`, '#!/bin/sh\necho "0|RUNNING"\n');
  Deno.chmodSync(`${bin}/sbatch`, 0o755);
  Deno.chmodSync(`${bin}/squeue`, 0o755);
  return { PATH: `${bin}:${Deno.env.get("PATH")}` };
}

Deno.test("shards, status and slurm without a permission they need: refused before the walk or the submission, naming it, nothing left (review)", async () => {
  await using tmp = await tempDir("pwalk-perm-");
  const root = `${tmp.path}/tree`;
  Deno.mkdirSync(`${root}/a`, { recursive: true });
  Deno.writeTextFileSync(`${root}/a/f`, "x");
  const log = `${tmp.path}/sbatch.log`;
  const path = fakeSlurm(`${tmp.path}/bin`, log);
  const sc = `${tmp.path}/sc`;
  Deno.mkdirSync(sc);
  const plan = await cli(["plan", root, "--shards", "1", "-o", `${sc}/plan.json`]);
  assertEquals(plan.code, 0, plan.stderr);
  // a shard's record tells its Slurm task (SLURM_JOB_ID): without
  // --allow-env, refused before the walk, not after its output is in place
  const noEnv = SIX.filter((p) => p !== "--allow-env");
  const shard = ["report", "--plan", `${sc}/plan.json`, "--shard", "0", "-o", `${sc}/scan-0.csv`];
  const r = await deno(["run", ...noEnv, `${REPO}/cli.ts`, ...shard]);
  assertEquals(r.code, 1, r.stderr);
  assertMatch(
    r.stderr,
    /^pwalk: Requires env access to "[A-Z_]+", run again with the --allow-env flag$/m,
  );
  assertEquals(ls(sc), ["plan.json"]);
  // squeue without --allow-run: said so, status 2 (not "1: not done yet")
  const made = await cli(["slurm", root, "--shards", "1", "--out", `${tmp.path}/sl`], {
    env: path,
  });
  assertEquals(made.code, 0, made.stderr);
  const noRun = SIX.filter((p) => p !== "--allow-run");
  const st = await deno(["run", ...noRun, `${REPO}/cli.ts`, "status", `${tmp.path}/sl`], {
    env: path,
  });
  assertEquals([st.code, st.stderr], [
    2,
    'pwalk: Requires run access to "squeue", run again with the --allow-run flag\n',
  ]);
  const ok = await deno(["run", ...SIX, `${REPO}/cli.ts`, "status", `${tmp.path}/sl`], {
    env: path,
  });
  assertMatch(ok.text, /^shard 0 +running +Slurm: RUNNING$/m);
  // --allow-env scoped without squeue's SQUEUE_* variables: squeue asked
  // as it is (they cannot be left out unread), not a refusal naming one (review)
  const scopedEnv = [
    ...SIX.filter((p) => p !== "--allow-env"),
    "--allow-env=HOME,DENO_DIR,TMPDIR,PATH",
  ];
  const asIs = await deno(["run", ...scopedEnv, `${REPO}/cli.ts`, "status", `${tmp.path}/sl`], {
    env: path,
  });
  assertEquals(asIs.code, 1, asIs.stderr);
  assertMatch(asIs.text, /^shard 0 +running +Slurm: RUNNING$/m);
  // SBATCH_ variables set, --allow-env scoped without them: not submitted
  // with them (the logs elsewhere), the plan and script taken back
  const env = { ...path, SBATCH_JOB_NAME: "mine", SBATCH_OUTPUT: `${tmp.path}/elsewhere.log` };
  const scoped = [...SIX.filter((p) => p !== "--allow-env"), "--allow-env=HOME,DENO_DIR,TMPDIR"];
  const withThem = [
    ...scoped.slice(0, -1),
    `${scoped.at(-1)},SBATCH_JOB_NAME,SBATCH_OUTPUT,SBATCH_ERROR`,
  ];
  for (
    const [perms, why] of [
      [
        scoped,
        /^pwalk: Requires env access to "SBATCH_JOB_NAME", run again with the --allow-env flag \(nothing was submitted; the plan and the script were removed\)$/m,
      ],
      [
        withThem,
        /^pwalk: SBATCH_JOB_NAME, SBATCH_OUTPUT set in the environment would move or rename the tasks' logs, .* \(nothing was submitted; /m,
      ],
    ] as const
  ) {
    const s = await deno([
      "run",
      ...perms,
      `${REPO}/cli.ts`,
      "slurm",
      root,
      "--shards",
      "1",
      "--out",
      `${tmp.path}/s2`,
    ], { env });
    assertEquals(s.code, 1, s.stderr);
    assertMatch(s.stderr, why);
    assertEquals(ls(tmp.path).includes("s2"), false, "the scan folder taken back");
  }
  // sbatch not to be run (--allow-run for squeue alone): taken back too
  const s = await deno([
    "run",
    ...SIX.filter((p) => p !== "--allow-run"),
    "--allow-run=squeue",
    `${REPO}/cli.ts`,
    "slurm",
    root,
    "--shards",
    "1",
    "--out",
    `${tmp.path}/s3`,
  ], { env: path });
  assertEquals(s.code, 1, s.stderr);
  assertMatch(
    s.stderr,
    /^pwalk: Requires run access to "sbatch", run again with the --allow-run flag \(nothing was submitted; the plan and the script were removed\)$/m,
  );
  assertEquals(ls(tmp.path).includes("s3"), false, "the scan folder taken back");
  // the one sbatch run (the first slurm, -A) saw none of them
  assertEquals(Deno.readTextFileSync(log), "name=unset out=unset\n");
});

Deno.test("summary without --allow-env: the answers, as with it; --html without NODE_ENV's: refused before DuckDB's work, nothing written (review)", async () => {
  await using tmp = await tempDir("pwalk-perm-");
  const root = `${tmp.path}/tree`;
  Deno.mkdirSync(`${root}/a`, { recursive: true });
  Deno.writeTextFileSync(`${root}/a/f`, "x");
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  const noEnv = SIX.filter((p) => p !== "--allow-env");
  const env = { TMPDIR: tmp.path, COLUMNS: "100" };
  const a = await deno(["run", "-A", `${REPO}/cli.ts`, "summary", scan], {
    env: { TMPDIR: tmp.path },
  });
  const b = await deno(["run", ...noEnv, `${REPO}/cli.ts`, "summary", scan], { env });
  assertEquals([b.code, b.stderr], [0, ""]);
  const dated = (t: string) => t.replace(/ in [0-9.]+ s\b/g, "");
  assertEquals(dated(b.text), dated(a.text));
  // without --allow-run for getent: numbers, and a line saying why
  const noRun = SIX.filter((p) => p !== "--allow-run");
  const n = await deno(["run", ...noRun, `${REPO}/cli.ts`, "summary", scan], { env });
  assertEquals([n.code, n.stderr], [
    0,
    "pwalk: getent may not be run (no --allow-run for it): users and groups are shown as numbers\n",
  ]);
  const me = Deno.uid()!;
  assertMatch(n.text, new RegExp(`^ *${me} `, "m"));
  assertMatch(a.text, /^ *root /m);
  const html = `${tmp.path}/x.html`;
  const some = [...noEnv, "--allow-env=HOME,DENO_DIR,TMPDIR,COLUMNS"];
  const h = await deno(["run", ...some, `${REPO}/cli.ts`, "summary", "--html", html, scan], {
    env,
  });
  assertEquals([h.code, h.text], [1, ""], h.stderr);
  assertMatch(
    h.stderr,
    /^pwalk: Requires env access to "NODE_ENV" \(ECharts reads it, for --html\), run again with the --allow-env flag$/m,
  );
  assertEquals(ls(tmp.path), ["s.csv", "tree"]);
});

Deno.test("repair --apply with the default journal, without --allow-env for XDG_STATE_HOME: the permission named, not 'no HOME', nor a set XDG_STATE_HOME passed over (review)", async () => {
  await using tmp = await tempDir("pwalk-perm-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, file("f")]);
  const before = snapshot(root);
  const state = `${tmp.path}/state`;
  const home = `${tmp.path}/home`;
  Deno.mkdirSync(home, { mode: 0o700 });
  const env = { HOME: home, XDG_STATE_HOME: state };
  const noEnv = SIX.filter((p) => p !== "--allow-env");
  for (const perms of [noEnv, [...noEnv, "--allow-env=HOME"]]) {
    const r = await deno(["run", ...perms, `${REPO}/cli.ts`, "repair", "--apply", root], { env });
    assert(r.code !== 0, r.stderr);
    assertMatch(
      r.stderr,
      /^pwalk: Requires env access to "XDG_STATE_HOME", run again with the --allow-env flag$/m,
    );
    assertEquals(diffSnapshots(before, snapshot(root)), []);
    assertEquals(ls(tmp.path), ["home", "proj"], "no journal folder made");
  }
  // allowed: the journal goes where XDG_STATE_HOME says
  const ok = await deno(["run", ...SIX, `${REPO}/cli.ts`, "repair", "--apply", root], { env });
  assertEquals(ok.code, 0, ok.stderr);
  assertEquals(ls(`${state}/pwalk`).length, 1);
});

Deno.test("report, summary and convert with README's permissions: a live process's temporaries are kept, a dead one's removed, as under -A (review)", async () => {
  // (Deno refuses /proc/PID/stat without --allow-all: every PID was taken
  // for a dead one, and a live run's temporaries removed)
  await using tmp = await tempDir("pwalk-perm-");
  const tree = `${tmp.path}/tree`;
  Deno.mkdirSync(`${tree}/a`, { recursive: true });
  Deno.writeTextFileSync(`${tree}/a/f`, "x");
  const scan = `${tmp.path}/scan.csv`;
  assertEquals((await cli(["-o", scan, tree])).code, 0);
  const live = new Deno.Command("sleep", { args: ["120"] }).spawn();
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  const dead = gone.pid;
  // this host's spill folder names: pwalk-duckdb-HOST-PID-X
  const spill = (pid: number) => spillPrefix("pwalk-duckdb").replace(`-${Deno.pid}-`, `-${pid}-`);
  try {
    for (const [i, perms] of [["-A"], SIX].entries()) {
      const d = `${tmp.path}/run${i}`;
      Deno.mkdirSync(`${d}/sp`, { recursive: true });
      const uuid = crypto.randomUUID();
      const made = (pid: number) => [
        `${d}/.page.html.partial-${pid}-${uuid}`, // summary --html's
        `${d}/.out.csv.zst.partial-${pid}-${uuid}`, // convert's
        `${d}/rep.csv.partial-${pid}-0`, // the report's (unlocked: a PID alone tells)
      ];
      for (const f of [...made(live.pid), ...made(dead)]) Deno.writeTextFileSync(f, "x");
      for (const pid of [live.pid, dead]) Deno.mkdirSync(`${d}/sp/${spill(pid)}abc`);
      for (
        const args of [
          ["summary", "--no-names", "--temp-dir", `${d}/sp`, "--html", `${d}/page.html`, scan],
          ["convert", scan, `${d}/out.csv.zst`],
          ["-o", `${d}/rep.csv`, tree],
        ]
      ) {
        const r = await deno(["run", ...perms, `${REPO}/cli.ts`, ...args]);
        assertEquals(r.code, 0, `${perms.join(" ")} ${args[0]}: ${r.stderr}`);
      }
      const left = ls(d).concat(ls(`${d}/sp`));
      for (const f of [...made(live.pid), `${d}/sp/${spill(live.pid)}abc`]) {
        assert(left.includes(f.slice(f.lastIndexOf("/") + 1)), `${perms.join(" ")}: ${f} removed`);
      }
      for (const f of [...made(dead), `${d}/sp/${spill(dead)}abc`]) {
        assert(!left.includes(f.slice(f.lastIndexOf("/") + 1)), `${perms.join(" ")}: ${f} left`);
      }
    }
  } finally {
    live.kill();
    await live.status;
  }
});

Deno.test("report with README's three permissions: -o naming a descriptor open on a file (/dev/stderr 2>>log, /dev/fd/3 3>>file) is refused, the file kept, as under -A (review)", async () => {
  // (Deno refuses /dev and /proc/self/fd without --allow-all: the log was
  // replaced by the report)
  await using tmp = await tempDir("pwalk-perm-");
  const tree = `${tmp.path}/tree`;
  Deno.mkdirSync(tree);
  Deno.writeTextFileSync(`${tree}/f`, "x");
  const log = `${tmp.path}/run.log`;
  Deno.symlinkSync("/dev/stderr", `${tmp.path}/link.csv`);
  // and --allow-read scoped away from /dev and /proc: refused, not let pass unlooked
  const scoped = [
    ...THREE.filter((p) => p !== "--allow-read"),
    `--allow-read=${REPO},${tmp.path}`,
  ];
  for (const perms of [["-A"], THREE, scoped]) {
    for (
      const [out, redirect] of [
        ["/dev/stderr", "2>>"],
        ["/dev/fd/3", "3>>"],
        [`${tmp.path}/link.csv`, "2>>"],
      ]
    ) {
      Deno.writeTextFileSync(log, "OLD LOG LINE\n");
      const ino = Deno.statSync(log).ino;
      const r = await deno(["run", ...perms, `${REPO}/cli.ts`, "-o", out, tree], {
        prefix: ["sh", "-c", `exec "$@" ${redirect}"${log}"`, "sh"],
      });
      const text = Deno.readTextFileSync(log);
      assertEquals(r.code, perms === scoped ? 1 : 2, `${perms.join(" ")} ${out}: ${text}`);
      assertEquals(Deno.statSync(log).ino, ino, `${perms.join(" ")} ${out}: the log replaced`);
      assert(text.startsWith("OLD LOG LINE\n"), text);
      assert(!text.includes("inode"), `${perms.join(" ")} ${out}: rows written`);
    }
  }
  // this process's stdout by a name: written through it, as under -A
  assertEquals((await cli(["-o", `${tmp.path}/s.csv`, tree])).code, 0);
  for (const perms of [["-A"], SIX]) {
    const r = await deno([
      "run",
      ...perms,
      `${REPO}/cli.ts`,
      "summary",
      "--no-names",
      "--html",
      "/dev/stdout",
      `${tmp.path}/s.csv`,
    ]);
    assertEquals(r.code, 0, `${perms.join(" ")}: ${r.stderr}`);
    assert(r.text.startsWith("<!DOCTYPE html>"), `${perms.join(" ")}: ${r.text.slice(0, 80)}`);
  }
});

/**
 * Deno's lines about its cache databases, which it says on a terminal when
 * another Deno process uses them at once (a machine running two suites):
 * not the command's.
 */
const DENO_CACHE_NOTICES =
  /^(Could not initialize cache database|Failed to open cache file) [^\n]*\n/gm;

/** A status line drawn, or cleared, in place: `\r`, the line, ESC [K (lib/cli/progress.ts). */
const STATUS_LINE_DRAWS = new RegExp("\r[^\r\n]*\x1b\\[K", "g");

testNeeding([SCRIPT], {
  name:
    "summary --html /dev/tty: written to the terminal under the six permissions (Deno wants --allow-all for /dev), refused where --allow-write does not grant it (review)",
  async fn() {
    await using tmp = await tempDir();
    const tree = `${tmp.path}/t`;
    Deno.mkdirSync(`${tree}/d`, { recursive: true });
    Deno.writeTextFileSync(`${tree}/d/f`, "x");
    const scan = `${tmp.path}/s.csv`;
    assertEquals((await cli(["-o", scan, tree])).code, 0);
    const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const scoped = [
      ...SIX.filter((p) => p !== "--allow-write"),
      `--allow-write=${Deno.env.get("TMPDIR") || "/tmp"},${tmp.path}`,
    ];
    for (const perms of [["-A"], SIX, scoped]) {
      const cmd = `${q(Deno.execPath())} run ${perms.map(q).join(" ")} ${q(`${REPO}/cli.ts`)} ` +
        `summary --no-names --html /dev/tty ${q(scan)} > /dev/null; echo "rc=$?"`;
      // (script: a terminal of its own, /dev/tty in the child; Deno's own
      // lines about its cache, another Deno process using it at once, left
      // out, and summary's status line, drawn and cleared on the same
      // terminal when the work takes over 2 s, as on a loaded machine)
      const ran = await run("script", ["-q", "-e", "-c", cmd, "/dev/null"]);
      const text = ran.text.replace(DENO_CACHE_NOTICES, "").replace(STATUS_LINE_DRAWS, "");
      const r = { text, stderr: ran.stderr };
      const what = `${perms.join(" ")}: ${r.text.slice(0, 300)} ${r.stderr}`;
      if (perms === scoped) {
        assertMatch(
          r.text,
          /pwalk: cannot write \/dev\/tty: Requires write access to "\/dev\/tty"/,
          what,
        );
        assertMatch(r.text, /rc=1\r?\n/, what);
        assert(!r.text.includes("<!DOCTYPE html>"), what);
        continue;
      }
      assert(r.text.startsWith("<!DOCTYPE html>"), what);
      assertMatch(r.text, /<\/html>\r?\nrc=0\r?\n$/, what);
    }
  },
});

Deno.test("API under a scoped --allow-read: a ROOT outside it is refused as Deno refuses it (NotCapable), though the library could read it; inside it, walked", async () => {
  await using tmp = await tempDir();
  const inside = `${tmp.path}/in`, outside = `${tmp.path}/out`;
  for (const d of [inside, outside]) {
    Deno.mkdirSync(`${d}/sub`, { recursive: true });
    Deno.writeTextFileSync(`${d}/sub/f`, "x");
  }
  const script = `${tmp.path}/scoped.ts`;
  Deno.mkdirSync(`${tmp.path}/o`);
  Deno.writeTextFileSync(
    script,
    `import { chown, planShards, repair, report, walk, walkDirs } from ${
      JSON.stringify(`${REPO}/mod.ts`)
    };
const [inside, outside] = Deno.args;
const out: Record<string, string | number> = {};
const calls: [string, (root: string) => Promise<unknown>][] = [
  ["Deno.readDir", async (r) => { let n = 0; for await (const _ of Deno.readDir(r)) n++; return n; }],
  ["walk", async (r) => { let n = 0; for await (const _ of walk(r)) n++; return n; }],
  ["walkDirs", async (r) => { let n = 0; for await (const _ of walkDirs(r)) n++; return n; }],
  ["report", (r) => report(r, { output: \`\${Deno.args[2]}/r.csv\` }).then((s) => s.entries)],
  ["repair", (r) => repair(r).then((s) => s.entriesSeen)],
  ["chown", (r) => chown(r, { from: 4242, to: { uid: 4243 } }).then((s) => s.entriesSeen)],
  ["plan", (r) => planShards(r, { shards: 2 }).then((p) => p.shards)],
];
for (const [name, call] of calls) {
  for (const [where, root] of name === "Deno.readDir" ? [["out", outside]] : [["in", inside], ["out", outside]]) {
    try {
      out[name + " " + where] = Number(await call(root));
    } catch (e) {
      out[name + " " + where] = (e as Error).name + ": " + (e as Error).message;
    }
  }
}
console.log(JSON.stringify(out));`,
  );
  const r = await deno([
    "run",
    "--no-prompt",
    `--allow-read=${REPO},${inside},${script},${tmp.path}/o`,
    `--allow-write=${tmp.path}/o`,
    "--allow-ffi",
    "--allow-env",
    "--no-check",
    script,
    inside,
    outside,
    `${tmp.path}/o`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const got = JSON.parse(r.text);
  const refused =
    `NotCapable: Requires read access to "${outside}", run again with the --allow-read flag`;
  // the reference: Deno's own refusal of that folder, in the same process
  assertEquals(got["Deno.readDir out"], refused);
  assertEquals(got, {
    "Deno.readDir out": refused,
    "walk in": 3,
    "walk out": refused,
    "walkDirs in": 2,
    "walkDirs out": refused,
    "report in": 3,
    "report out": refused,
    // (repair and chown look at / too: their system-folder checks need all
    // of --allow-read, as README's permissions say)
    "repair in": got["repair in"],
    "repair out": refused,
    "chown in": got["chown in"],
    "chown out": refused,
    "plan in": got["plan in"], // planned (its count is the planner's)
    "plan out": refused,
  });
  assert(typeof got["plan in"] === "number", String(got["plan in"]));
});
