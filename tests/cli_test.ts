/**
 * The `pwalk` command line: usage errors (one line on stderr, exit status
 * 2, nothing on stdout), the thread flags in both spellings, -o/--output,
 * the optional `report` word, --help and --version; an argument that is
 * not valid UTF-8 is refused, never taken for the file its U+FFFD
 * spelling names.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { lineSet, parsePwalk } from "./helpers/csv.ts";
import { assertRowsMatch } from "./helpers/compare.ts";
import { settledReference } from "./helpers/reference.ts";
import { cli, REPO, run, runOk, spawnCli, UNPRIVILEGED } from "./helpers/run.ts";
import { pooled } from "./helpers/pool.ts";
import { tempDir } from "./helpers/temp.ts";
import { concat } from "./helpers/bytes.ts";
import { closeLibc, listRaw, mkdirRaw, writeFileRaw } from "./helpers/libc.ts";
import { PYTHON3, SETPRIV, testNeeding } from "./helpers/system.ts";

const denoJson = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));

/** A small tree with a few files and folders. */
async function smallTree(root: string): Promise<void> {
  await Deno.mkdir(`${root}/a/b`, { recursive: true });
  await Deno.writeTextFile(`${root}/a/one.txt`, "1");
  await Deno.writeTextFile(`${root}/a/b/two.csv`, "22");
  await Deno.writeTextFile(`${root}/three`, "333");
}

/** Assert a usage error: exit 2, exactly one line on stderr, nothing on stdout. */
function assertUsageError(r: { code: number; stdout: Uint8Array; stderr: string }): string {
  assertEquals(r.code, 2, r.stderr);
  assertEquals(r.stdout.length, 0, "stdout must stay empty");
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assertEquals(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assertMatch(lines[0], /^pwalk: /);
  return lines[0];
}

Deno.test("CLI usage errors: one line on stderr, exit 2, nothing on stdout", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await smallTree(root);

  await t.step("unknown option", async () => {
    const line = assertUsageError(await cli(["--bogus", root]));
    assertStringIncludes(line, "--bogus");
  });
  await t.step("unknown short option", async () => {
    assertUsageError(await cli(["-q", root]));
  });
  await t.step(
    "pwalk's -v (its --version and --header at once) is unknown here, as docs/csv-format.md says",
    async () => {
      assertEquals(
        assertUsageError(await cli(["-v", root])),
        "pwalk: unknown option -v (try --help)",
      );
      const doc = await Deno.readTextFile(new URL("../docs/csv-format.md", import.meta.url));
      assertStringIncludes(doc.replace(/\s+/g, " "), "`pwalk: unknown option -v (try --help)`");
    },
  );
  await t.step("unknown option after the root", async () => {
    assertUsageError(await cli([root, "--frobnicate=3"]));
  });
  await t.step("missing root", async () => {
    assertStringIncludes(assertUsageError(await cli([])), "ROOT");
    assertUsageError(await cli(["--header"]));
  });
  await t.step("two roots", async () => {
    assertUsageError(await cli([root, `${root}/a`]));
  });
  await t.step("nonexistent root (and no output file made)", async () => {
    const out = `${tmp.path}/never.csv`;
    const line = assertUsageError(await cli(["-o", out, `${tmp.path}/does-not-exist`]));
    assertStringIncludes(line, "does-not-exist");
    assertEquals(Array.from(Deno.readDirSync(tmp.path), (e) => e.name), ["tree"]);
  });
  await t.step("root that is a file", async () => {
    assertUsageError(await cli([`${root}/three`]));
  });
  await t.step("bad thread counts", async () => {
    // (refused before any work: two at a time, then checked in turn)
    const ran = await pooled(
      ["0", "abc", "-3", "1.5", "100000"].flatMap((v) => [
        ["--threads", v, root],
        [`--maxthreads=${v}`, root],
        // each checked, whichever wins
        ["--threads", v, "--maxthreads", "4", root],
      ]),
      (args) => cli(args),
    );
    for (const r of ran) assertUsageError(r);
  });
  await t.step("bad --depth and --level", async () => {
    assertUsageError(await cli(["--depth", "x", root]));
    assertUsageError(await cli(["--level", "20", root]));
  });
  await t.step("--exclude of a missing file", async () => {
    assertUsageError(await cli(["--exclude", `${tmp.path}/no-such-list`, root]));
  });
  await t.step("--errors FILE that is the output (or a link to it): nothing written", async () => {
    const out = `${tmp.path}/same.csv`;
    const line = assertUsageError(await cli(["-o", out, "--errors", out, root]));
    assertStringIncludes(line, "is the report's output");
    await Deno.writeTextFile(out, "old\n");
    await Deno.symlink(out, `${tmp.path}/link.csv`);
    assertUsageError(await cli(["-o", out, "--errors", `${tmp.path}/link.csv`, root]));
    assertEquals(await Deno.readTextFile(out), "old\n");
    // one new file named through a link to its folder (the errors file's
    // rename would replace the report)
    await Deno.mkdir(`${tmp.path}/outdir`);
    await Deno.symlink(`${tmp.path}/outdir`, `${tmp.path}/alias`);
    const l2 = assertUsageError(
      await cli(["-o", `${tmp.path}/outdir/n.csv`, "--errors", `${tmp.path}/alias/n.csv`, root]),
    );
    assertStringIncludes(l2, "is the report's output");
    assertEquals([...Deno.readDirSync(`${tmp.path}/outdir`)], []);
    // told apart when they differ
    const r = await cli([
      "-o",
      `${tmp.path}/outdir/n.csv`,
      "--errors",
      `${tmp.path}/alias/e.csv`,
      root,
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(
      [...Deno.readDirSync(`${tmp.path}/outdir`)].map((e) => e.name).sort(),
      ["e.csv", "n.csv"],
    );
    for (const f of ["n.csv", "e.csv"]) await Deno.remove(`${tmp.path}/outdir/${f}`);
  });
  await t.step(
    "-o or --errors that is an --exclude list (report, plan, repair, chown)",
    async () => {
      // the list is read before anything is written: replacing it would
      // lose it; refused as convert refuses an output that is its input
      const list = `${tmp.path}/skip.txt`;
      await Deno.writeTextFile(list, `${root}/a/b\n`);
      const copy = `${tmp.path}/skip.orig`;
      await Deno.copyFile(list, copy);
      const ino = Deno.statSync(list).ino;
      await Deno.symlink(list, `${tmp.path}/skip-link`);
      for (const target of [list, `${tmp.path}/skip-link`]) {
        for (
          const args of [
            ["report", "-o", target, root],
            ["report", "--errors", target, root],
            ["plan", root, "--shards", "2", "-o", target],
            ["repair", "--errors", target, root],
            ["chown", "--chown_from", "1", "--chown_to", "2:2", "--errors", target, root],
          ]
        ) {
          const r = await cli([args[0], "--exclude", list, ...args.slice(1)]);
          const line = assertUsageError(r);
          assertStringIncludes(
            line,
            `${target} is also an input (${list}): writing it would replace what is read`,
          );
          assertEquals(await Deno.readFile(list), await Deno.readFile(copy), args.join(" "));
          assertEquals(Deno.statSync(list).ino, ino, "the list never replaced");
        }
      }
      // another file beside it is written as ever
      const ok = await cli(["--exclude", list, "-o", `${tmp.path}/s.csv`, root]);
      assertEquals(ok.code, 0, ok.stderr);
      await Deno.remove(`${tmp.path}/s.csv`);
    },
  );
  await t.step(
    "--exclude of a folder gone from inside ROOT: a warning, the scan goes on",
    async () => {
      const r = await cli(["--exclude", `${root}/gone`, root]);
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(
        r.stderr,
        `pwalk: warning: --exclude ${root}/gone matched nothing under ${root}`,
      );
      assert(r.stdout.length > 0);
    },
  );
});

Deno.test("CLI: thread flags, -o/--output, the report word", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await smallTree(root);
  const outDir = `${tmp.path}/out`;
  await Deno.mkdir(outDir);
  const ref = settledReference(root);

  const plain = await cli([root]);
  assertEquals(plain.code, 0, plain.stderr);
  // Not a terminal: no progress line, only the one summary line.
  const summary = plain.stderr.split("\n").filter((l) => l !== "");
  assertEquals(summary.length, 1, plain.stderr);
  assertStringIncludes(summary[0], `pwalk: ${ref.rows.size.toLocaleString("en-US")} entries, `);
  assertStringIncludes(summary[0], " -> stdout (");
  assertRowsMatch(parsePwalk(plain.stdout).rows, ref.rows);
  const lines = lineSet(plain.stdout);

  for (
    const args of [
      ["--maxthreads", "4"],
      ["--maxthreads=4"],
      ["--threads", "4"],
      ["--threads=3"],
      ["report"],
      ["report", "--maxthreads", "2"],
    ]
  ) {
    await t.step(args.join(" "), async () => {
      const r = await cli([...args, root]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(lineSet(r.stdout), lines);
    });
  }

  for (const flag of ["-o", "--output"]) {
    await t.step(`${flag} FILE: the file holds the report, stdout stays empty`, async () => {
      const out = `${outDir}/scan${flag}.csv`;
      const r = await cli([flag, out, root]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.length, 0);
      assertEquals(lineSet(await Deno.readFile(out)), lines);
    });
  }
  await t.step("--output=FILE", async () => {
    const out = `${outDir}/eq.csv`;
    const r = await cli([`--output=${out}`, root]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout.length, 0);
    assertEquals(lineSet(await Deno.readFile(out)), lines);
  });
  await t.step("-o into a missing folder: exit 1 with one message, no file", async () => {
    // A root that cannot be walked is bad usage (2); an output that cannot
    // be written is a failure of the run (1), as lib/cli/common.ts documents.
    const r = await cli(["-o", `${outDir}/missing/x.csv`, root]);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stdout.length, 0);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertStringIncludes(r.stderr, `${outDir}/missing/x.csv`);
  });
  await t.step("--progress: the summary names the output file", async () => {
    const r = await cli(["--progress", "-o", `${outDir}/p.csv`, root]);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stderr, `${ref.rows.size.toLocaleString("en-US")} entries`);
    assertStringIncludes(r.stderr, ` -> ${outDir}/p.csv (`);
  });
});

Deno.test("CLI --help and --version exit 0", async () => {
  const help = await cli(["--help"]);
  assertEquals(help.code, 0, help.stderr);
  const text = new TextDecoder().decode(help.stdout);
  assertStringIncludes(text, "Usage");
  for (const flag of ["--header", "--NoSnap", "--depth", "--exclude", "--one-file-system"]) {
    assertStringIncludes(text, flag);
  }
  assertEquals((await cli(["-h"])).code, 0);
  const version = await cli(["--version"]);
  assertEquals(version.code, 0, version.stderr);
  assertStringIncludes(new TextDecoder().decode(version.stdout), denoJson.version);
  assertEquals((await cli(["-V"])).code, 0);
  // every command's help tells its exit statuses
  for (
    const c of [
      "report",
      "repair",
      "undo",
      "summary",
      "diff",
      "convert",
      "plan",
      "slurm",
      "status",
    ]
  ) {
    const h = await cli([c, "--help"]);
    assertEquals(h.code, 0, h.stderr);
    assert(/Exit status:\s+0 /.test(h.text), `${c}: ${h.text}`);
  }
  assertStringIncludes((await cli(["chown", "--help"])).text, "exit statuses as for pwalk repair");
  // `pwalk help`, and help about help: the general help, status 0
  const general = await cli(["help"]);
  assertEquals(general.code, 0, general.stderr);
  assertStringIncludes(general.text, "Commands:");
  for (const args of [["help", "help"], ["help", "--help"], ["help", "-h"]]) {
    const r = await cli(args);
    assertEquals([r.code, r.text], [0, general.text], args.join(" "));
  }
});

Deno.test("README's command table lists the commands of pwalk help, in its order", async () => {
  const general = await cli(["help"]);
  assertEquals(general.code, 0, general.stderr);
  const block = general.text.split("\nCommands:\n")[1].split("\n\n")[0];
  const listed = block.split("\n").map((l) => /^ {2}(\S+) /.exec(l)![1]);
  assert(listed.length >= 11, block);
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  const section = readme.split("\n## Command line\n")[1].split("\n## ")[0];
  // the first table of the section: `pwalk [report] ...`, `pwalk repair ...`
  const table = section.split("\n\n").find((p) => p.startsWith("| command"))!;
  const rows = table.split("\n").slice(2).map((l) => /^\| `pwalk \[?(\w+)\]?[ `]/.exec(l)?.[1]);
  assertEquals(rows, listed);
});

Deno.test("--help anywhere (even as an option's value) prints the relevant help", async () => {
  await using tmp = await tempDir();
  const shardHelp = await cli(["report", "--plan", "plan.json", "--shard", "0", "--help"]);
  assertEquals(shardHelp.code, 0, shardHelp.stderr);
  assertMatch(shardHelp.text, /^pwalk report --plan: one shard of a planned scan/);
  // --help taken as --plan's value (getopt's reading): the shard's help all the same
  for (const args of [["report", "--plan", "--help"], ["--plan", "--help"], ["--plan", "-h"]]) {
    const r = await cli(args);
    assertEquals([r.code, r.stderr, r.text], [0, "", shardHelp.text], args.join(" "));
  }
  // a shard's own options are reachable from the general and the plan help
  for (const o of ["--level", "--threads", "--errors", "--progress"]) {
    assertStringIncludes(shardHelp.text, o);
  }
  for (const args of [["report", "--help"], ["help", "plan"]]) {
    assertStringIncludes((await cli(args)).text, "pwalk report --plan --help", args.join(" "));
  }
  // the same in the other commands: --help as the value of an option
  for (
    const [args, cmd] of [
      [["summary", "--top", "--help", "x.csv"], "summary"],
      [["plan", "--shards", "-h"], "plan"],
      [["repair", "--threads", "--help"], "repair"],
      [["-o", "-h"], undefined], // no ROOT: the general help
    ] as const
  ) {
    const want = await cli(cmd ? [cmd, "--help"] : ["--help"]);
    const r = await cli([...args], { cwd: tmp.path });
    assertEquals([r.code, r.stderr, r.text], [0, "", want.text], args.join(" "));
  }
  // a command line that is good with it runs as written: -o -h names a file
  await Deno.mkdir(`${tmp.path}/t`);
  const r = await cli(["-o", "-h", "t"], { cwd: tmp.path });
  assertEquals(r.code, 0, r.stderr);
  assert(Deno.statSync(`${tmp.path}/-h`).isFile);
});

Deno.test("CLI: stdout closed early (| head) stops quietly with status 141", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  // Enough rows to overflow a pipe buffer many times over.
  for (let d = 0; d < 20; d++) {
    await Deno.mkdir(`${root}/d${d}`, { recursive: true });
    for (let f = 0; f < 200; f++) await Deno.writeTextFile(`${root}/d${d}/file-${f}.txt`, "x");
  }
  const child = spawnCli(["--threads", "2", root]);
  const reader = child.stdout.getReader();
  const first = await reader.read(); // some rows arrive, then the reader goes away
  assertEquals(first.done, false);
  await reader.cancel();
  const status = await child.status;
  const stderr = new TextDecoder().decode(
    (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
  );
  assertEquals(status.code, 141, stderr);
  assertEquals(stderr, "", "no error message for a closed pipe");
});

/**
 * Run `deno ARGS` with arguments of any bytes (Deno.Command takes text
 * only): python3 execs deno with each argument decoded from hex.
 */
function rawDeno(args: (string | Uint8Array)[], cwd: string) {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return run("python3", [
    "-c",
    "import os, sys; a = [bytes.fromhex(h) for h in sys.argv[1:]]; os.execv(a[0], a)",
    ...[Deno.execPath(), ...args].map((a) => hex(concat(a))),
  ], { cwd, env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } });
}

testNeeding([PYTHON3], {
  name: "CLI: an argument that is not valid UTF-8 is refused, never taken for its U+FFFD spelling",
  async fn(t) {
    await using tmp = await tempDir();
    const enc = new TextEncoder();
    // d\xff and a folder really named d\uFFFD (bytes ef bf bd): Deno hands
    // over the argument d\xff, and d\xfe, as the text of the second
    const nu = `${tmp.path}/nu`;
    await Deno.mkdir(nu);
    const ff = concat(`${nu}/d`, new Uint8Array([0xff]));
    mkdirRaw(ff);
    writeFileRaw(concat(ff, "/in"), enc.encode("q"));
    const real = `${nu}/d\uFFFD`;
    await Deno.mkdir(real);
    await Deno.writeTextFile(`${real}/in2`, "qq");
    closeLibc();
    const bad = (s: string, b: number) => concat(s, new Uint8Array([b]));
    const files = () => listRaw(enc.encode(tmp.path)).map((n) => n.join()).sort();
    const before = files();
    const cliRaw = (args: (string | Uint8Array)[]) =>
      rawDeno(["run", "-A", `${REPO}/cli.ts`, ...args], tmp.path);

    await t.step("as a path: status 2, one line, nothing walked or written", async () => {
      const cases: [(string | Uint8Array)[], string][] = [
        [[bad("nu/d", 0xfe)], "pwalk: nu/d\uFFFD: not valid UTF-8"], // names nothing
        [["report", bad("nu/d", 0xff)], "pwalk: nu/d\uFFFD: not valid UTF-8"], // names d\xff
        [["--", bad("nu/d", 0xff)], "pwalk: nu/d\uFFFD: not valid UTF-8"],
        [["--exclude", bad("nu/d", 0xff), "nu"], "pwalk: --exclude nu/d\uFFFD: not valid UTF-8"],
        [[bad("--exclude=nu/d", 0xfe), "nu"], "pwalk: --exclude nu/d\uFFFD: not valid UTF-8"],
        [["-o", bad("out", 0xff), "nu"], "pwalk: -o out\uFFFD: not valid UTF-8"],
        [["--errors", bad("e", 0xff), "nu"], "pwalk: --errors e\uFFFD: not valid UTF-8"],
        [["repair", "--journal", bad("j", 0xff), "nu"], "pwalk: --journal j\uFFFD: not valid"],
        [["undo", bad("j", 0xff)], "pwalk: j\uFFFD: not valid UTF-8"],
        [["plan", "-o", bad("p", 0xff), "nu"], "pwalk: -o p\uFFFD: not valid UTF-8"],
        [["report", "--plan", bad("p", 0xff), "--shard", "0"], "pwalk: --plan p\uFFFD: not"],
        [["status", bad("s", 0xff)], "pwalk: s\uFFFD: not valid UTF-8"],
        [["summary", bad("s", 0xff)], "pwalk: s\uFFFD: not valid UTF-8"],
        [["convert", "nu", bad("c", 0xff)], "pwalk: c\uFFFD: not valid UTF-8"],
        [
          ["slurm", "--dry-run", bad("--sbatch=--comment=o", 0xff), "--out", "s", "nu"],
          "pwalk: --sbatch --comment=o\uFFFD: not valid UTF-8",
        ],
      ];
      // (each refused before any work: two at a time, then checked in turn)
      const ran = await pooled(cases, ([args]) => cliRaw(args));
      for (const [i, [args, start]] of cases.entries()) {
        const r = ran[i];
        const line = assertUsageError(r);
        assert(line.startsWith(start), `${args.join(" ")}: ${line}`);
        assertStringIncludes(line, "U+FFFD in place of its bad bytes");
        assertEquals(files(), before, "nothing written");
      }
      // `deno task report`: the task's process decoded the bytes, not pwalk's
      const task = await rawDeno(
        ["task", "--quiet", "--config", `${REPO}/deno.json`, "report", bad("nu/d", 0xfe)],
        tmp.path,
      );
      assertStringIncludes(assertUsageError(task), "pwalk: nu/d\uFFFD: not valid UTF-8");
      // README's three permissions: Deno refuses /proc/self/cmdline without -A
      const three = await rawDeno(
        [
          "run",
          "--no-prompt",
          "--allow-ffi",
          "--allow-read",
          "--allow-env",
          `${REPO}/cli.ts`,
          bad("nu/d", 0xff),
        ],
        tmp.path,
      );
      assertStringIncludes(assertUsageError(three), "pwalk: nu/d\uFFFD: not valid UTF-8");
      assertEquals(files(), before, "nothing written");
      // --help still wins
      const help = await cliRaw([bad("nu/d", 0xff), "--help"]);
      assertEquals(help.code, 0, help.stderr);
      assertStringIncludes(help.text, "Usage");
    });

    await t.step("a real U+FFFD in valid UTF-8 still names its folder, or a file", async () => {
      const ref = settledReference(real);
      const r = await cliRaw([enc.encode(real)]);
      assertEquals(r.code, 0, r.stderr);
      assertRowsMatch(parsePwalk(r.stdout).rows, ref.rows);
      const out = `${tmp.path}/o\uFFFD.csv`;
      const o = await cliRaw(["-o", enc.encode(out), enc.encode(real)]);
      assertEquals(o.code, 0, o.stderr);
      assertRowsMatch(parsePwalk(await Deno.readFile(out)).rows, ref.rows);
      await Deno.remove(out);
      const rest = settledReference(nu, { exclude: [enc.encode(real)] });
      const ex = await cliRaw(["--exclude", enc.encode(real), nu]);
      assertEquals(ex.code, 0, ex.stderr);
      assertRowsMatch(parsePwalk(ex.stdout).rows, rest.rows);
    });

    await t.step(
      "ROOT below a folder whose name is not UTF-8: refused, the library walks it",
      async () => {
        // python chdirs into nu/d\xff (Deno cannot name it) and execs ARGS there
        const inside = (args: string[]) =>
          run("python3", [
            "-c",
            "import os, sys; os.chdir(bytes.fromhex(sys.argv[1])); os.execv(sys.argv[2], sys.argv[2:])",
            Array.from(ff, (x) => x.toString(16).padStart(2, "0")).join(""),
            Deno.execPath(),
            ...args,
          ], { env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } });
        const r = await inside(["run", "-A", `${REPO}/cli.ts`, "."]);
        const line = assertUsageError(r);
        assertStringIncludes(line, "pwalk: .: File name or path");
        assertStringIncludes(line, "is not valid UTF-8");
        // what README offers instead: report(".") from a script run there
        const out = `${tmp.path}/lib.csv`;
        const lib = await inside([
          "eval",
          `import { report } from "${REPO}/mod.ts"; await report(".", { output: "${out}" });`,
        ]);
        assertEquals(lib.code, 0, lib.stderr);
        const inodes = (await run("python3", [
          "-c",
          "import os, sys; d = bytes.fromhex(sys.argv[1]); r = [os.lstat(d).st_ino]\n" +
          "for p, ds, fs in os.walk(d):\n  r += [os.lstat(os.path.join(p, n)).st_ino for n in ds + fs]\n" +
          "print(' '.join(map(str, sorted(r))))",
          Array.from(ff, (x) => x.toString(16).padStart(2, "0")).join(""),
        ])).text.trim();
        const rows = parsePwalk(await Deno.readFile(out)).rows;
        assertEquals(rows.map((row) => row.ino).sort((a, b) => a - b).join(" "), inodes);
        await Deno.remove(out);
      },
    );
  },
});

testNeeding([PYTHON3], {
  name: "CLI: an argument ending in a carriage return names the file whose name ends so",
  async fn() {
    // Deno drops the \r that ends an argument from Deno.args (for CRLF
    // shebang lines); d\r would name d, and -o out\r overwrite out
    await using tmp = await tempDir();
    const cr = `${tmp.path}/cr`;
    const ex = `${tmp.path}/ex`;
    for (const d of ["cr/d", "cr/d\r", "ex/x", "ex/x\r"]) {
      await Deno.mkdir(`${tmp.path}/${d}`, { recursive: true });
    }
    for (
      const [f, t] of [["cr/d/plain", "1"], ["cr/d\r/in", "22"], ["ex/x/a", "3"], ["ex/x\r/c", "4"]]
    ) {
      await Deno.writeTextFile(`${tmp.path}/${f}`, t);
    }
    await Deno.writeTextFile(`${cr}/out`, "precious");
    const names = () => [...Deno.readDirSync(cr)].map((e) => e.name).sort();
    const before = names();
    const cliRaw = (args: (string | Uint8Array)[]) =>
      rawDeno(["run", "-A", `${REPO}/cli.ts`, ...args], tmp.path);

    // ROOT: its own rows, not d's
    const ref = settledReference(`${cr}/d\r`);
    const r = await cliRaw([`${cr}/d\r`]);
    assertEquals(r.code, 0, r.stderr);
    assertRowsMatch(parsePwalk(r.stdout).rows, ref.rows);
    // the same under `deno task report` (its process read the argument)
    const task = await rawDeno(
      ["task", "--quiet", "--config", `${REPO}/deno.json`, "report", `${cr}/d\r`],
      tmp.path,
    );
    assertEquals(task.code, 0, task.stderr);
    assertRowsMatch(parsePwalk(task.stdout).rows, ref.rows);
    // -o and --errors: written under their own names, out untouched
    const refD = settledReference(`${cr}/d`);
    const o = await cliRaw(["-o", `${cr}/out\r`, "--errors", `${cr}/e\r`, `${cr}/d`]);
    assertEquals(o.code, 0, o.stderr);
    assertEquals(await Deno.readTextFile(`${cr}/out`), "precious");
    assertRowsMatch(
      parsePwalk(await Deno.readFile(`${cr}/out\r`)).rows,
      refD.rows,
    );
    assertEquals(names(), [...before, "e\r", "out\r"].sort());
    await Deno.remove(`${cr}/out\r`);
    await Deno.remove(`${cr}/e\r`);
    // --exclude x\r leaves x\r out, and x in
    const exr = await cliRaw(["--exclude", `${ex}/x\r`, ex]);
    assertEquals(exr.code, 0, exr.stderr);
    const inos = (paths: string[]) =>
      paths.map((p) => Deno.lstatSync(p).ino!).sort((a, b) => a - b);
    assertEquals(
      parsePwalk(exr.stdout).rows.map((row) => row.ino).sort((a, b) => a - b),
      inos([ex, `${ex}/x`, `${ex}/x/a`]),
    );
    // an argument ending in \r keeps the guard against lossy names working
    const lossy = concat(`${cr}/caf`, new Uint8Array([0xe9]));
    const bad = await cliRaw(["--exclude", `${ex}/x\r`, lossy]);
    assertStringIncludes(assertUsageError(bad), "not valid UTF-8");
    const badCr = await cliRaw([concat(lossy, "\r")]);
    assertStringIncludes(assertUsageError(badCr), "not valid UTF-8");
    assertEquals(names(), before, "nothing written");
  },
});

/** Spawn the CLI, read `chunks` chunks of its stdout (0: none), close it; status and stderr. */
async function closeStdoutEarly(args: string[], chunks: number, prefix?: string[]) {
  const child = spawnCli(args, { prefix });
  const reader = child.stdout.getReader();
  for (let i = 0; i < chunks; i++) assertEquals((await reader.read()).done, false);
  await reader.cancel();
  const status = await child.status;
  const stderr = new TextDecoder().decode(
    (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
  );
  return { code: status.code, stderr };
}

Deno.test("--errors - (stdout) closed early: 141 quietly, named -, no output left", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  // error rows enough to fill a pipe many times over (folders it may not
  // read, without capabilities): the walk meets the closed pipe
  const long = "x".repeat(60);
  for (let i = 0; i < 3000; i++) await Deno.mkdir(`${root}/locked-${i}-${long}`, { mode: 0o000 });
  const out = `${tmp.path}/out.csv`;
  const args = ["--errors", "-", "-o", out, root];
  // the reference: read whole, one row per locked folder, and the summary names stdout
  const whole = await cli(args, { prefix: UNPRIVILEGED });
  assertEquals(whole.code, 0, whole.stderr);
  assertEquals(whole.text.split("\n").filter((l) => l.includes(",open,EACCES,")).length, 3000);
  assertStringIncludes(whole.stderr, "3,000 errors (listed in stdout)");
  await Deno.remove(out);
  // closed after the header (rows meet it), and before anything (the header does)
  for (const chunks of [1, 0]) {
    const r = await closeStdoutEarly(args, chunks, UNPRIVILEGED);
    assertEquals(r.code, 141, r.stderr);
    assert(!/Broken pipe|cannot write|dev\/stdout/.test(r.stderr), r.stderr);
    assert(!r.stderr.includes("errors (listed in"), "no summary line: it stopped");
    assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["tree"], "no output left");
  }
});

Deno.test("summary, diff, plan, status: stdout closed early (| head) stops quietly with status 141", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await smallTree(root);
  const scan = `${tmp.path}/scan.csv`;
  assertEquals((await cli(["--header", "-o", scan, root])).code, 0);
  const shards = `${tmp.path}/shards`;
  await Deno.mkdir(shards);
  assertEquals((await cli(["plan", root, "--shards", "1", "-o", `${shards}/plan.json`])).code, 0);
  assertEquals(
    (await cli([
      "report",
      "--plan",
      `${shards}/plan.json`,
      "--shard",
      "0",
      "-o",
      `${shards}/scan-0.csv.zst`,
    ])).code,
    0,
  );
  for (
    const args of [
      ["summary", "--json", scan],
      ["diff", "--json", scan, scan],
      ["plan", "--shards", "2", root],
      ["status", "--json", shards],
      ["status", shards],
    ]
  ) {
    // the reference: read whole, the answer is there and the status 0
    const whole = await cli(args);
    assertEquals(whole.code, 0, whole.stderr);
    if (args.includes("--json")) assert(typeof JSON.parse(whole.text) === "object");
    else assert(whole.text.trim() !== "", args.join(" "));
    // closed before the answer is written, as `| head -1` once it has its line
    const r = await closeStdoutEarly(args, 0);
    assertEquals([r.code, r.stderr], [141, ""], args[0]);
  }
});

Deno.test("a folder named like a command is given as ./repair: reported; `pwalk repair` runs repair", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.path}/repair`;
  await Deno.mkdir(`${dir}/sub`, { recursive: true });
  await Deno.writeTextFile(`${dir}/sub/f`, "x");
  // the reference by Deno.lstat, its paths as given (./repair) on the command line
  const ref = [...settledReference(dir).rows.values()].map((r) => ({
    key: `./repair${r.key.slice(dir.length)}`,
    ino: r.ino,
  })).sort((a, b) => a.key.localeCompare(b.key));
  assertEquals(ref.map((r) => r.key), ["./repair", "./repair/sub", "./repair/sub/f"]);
  const asFolder = await cli(["./repair"], { cwd: tmp.path });
  assertEquals(asFolder.code, 0, asFolder.stderr);
  const rows = parsePwalk(asFolder.stdout).rows.map((r) => ({ key: r.key, ino: r.ino }));
  assertEquals(rows.sort((a, b) => a.key.localeCompare(b.key)), ref);
  // the bare name is the command, even with that folder here: repair's
  // dry run on ROOT, its own summary, no report row; without ROOT, repair
  // asks for one
  const asCommand = await cli(["repair", "repair"], { cwd: tmp.path });
  assertEquals(asCommand.code, 0, asCommand.stderr);
  assertEquals(asCommand.text, "");
  assertMatch(asCommand.stderr, /^pwalk repair: 3 entries seen, 0 would change /m);
  assertMatch(asCommand.stderr, /^pwalk repair: dry run, nothing was changed/m);
  const bare = await cli(["repair"], { cwd: tmp.path });
  assertEquals([bare.code, bare.text], [2, ""], bare.stderr);
  const help = await cli(["repair", "--help"], { cwd: tmp.path });
  assertMatch(help.text, /^pwalk repair: /);
});

testNeeding([SETPRIV], {
  name:
    "deno task build: zig runs only when an input changed, and a checkout the user cannot write is one line, not zig's AccessDenied",
  async fn() {
    await using tmp = await tempDir();
    await Deno.chmod(tmp.path, 0o755);
    // a copy of the checkout's build inputs, whose zig is a stub that logs its
    // runs and writes a library carrying native/'s source id (tools/build.sh checks it)
    const co = `${tmp.path}/checkout`;
    await Deno.mkdir(`${co}/tools`, { recursive: true });
    await runOk("cp", ["-R", `${REPO}/build.zig`, `${REPO}/native`, co]);
    await Deno.copyFile(`${REPO}/tools/build.sh`, `${co}/tools/build.sh`);
    const writeId = `import { sourceId } from "${REPO}/lib/source_id.ts"; ` +
      `Deno.writeTextFileSync("zig-out/lib/libpwalk.so", "built " + sourceId("native"));`;
    await Deno.writeTextFile(
      `${co}/tools/zig.sh`,
      `echo "$*" >>zig.log && mkdir -p zig-out/lib && '${Deno.execPath()}' eval '${writeId}'\n`,
    );
    // libdeflate's and zstd's: the checkout's own trees (tools/build.sh checks them against their SHA-256)
    const sh = await Deno.readTextFile(`${REPO}/tools/build.sh`);
    const deflate = `.tools/libdeflate/libdeflate-sys-${
      /^LIBDEFLATE_SYS_VERSION=(\S+)$/m.exec(sh)![1]
    }/libdeflate`;
    await Deno.mkdir(`${co}/${deflate}`, { recursive: true });
    await runOk("cp", ["-R", `${REPO}/${deflate}/.`, `${co}/${deflate}`]);
    const zstd = ".tools/zstd/node_modules/zstd-napi/deps/zstd/lib";
    await Deno.mkdir(`${co}/${zstd}`, { recursive: true });
    await runOk("cp", ["-R", `${REPO}/${zstd}/.`, `${co}/${zstd}`]);
    const zigRuns = () => {
      try {
        return Deno.readTextFileSync(`${co}/zig.log`).split("\n").filter((l) => l).length;
      } catch {
        return 0;
      }
    };
    const build = (env: Record<string, string> = {}, args: string[] = [], prefix?: string[]) =>
      run("sh", [`${co}/tools/build.sh`, ...args], { cwd: tmp.path, env, prefix });
    // every input an hour old; a change: the stamp (the last build's start)
    // set 2 s back and the input 1 s back, so that it is newer than that
    // build and older than the next
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    await runOk("find", [co, "-exec", "touch", "-h", "-d", `@${hourAgo}`, "{}", "+"]);
    const touch = (rel: string) => {
      const stamp = `${co}/zig-out/.pwalk-build`;
      const t = Deno.statSync(stamp).mtime!.getTime() / 1000;
      Deno.utimeSync(stamp, t - 2, t - 2);
      Deno.utimeSync(`${co}/${rel}`, t - 1, t - 1);
    };
    const steps: [string, () => Promise<unknown>, number][] = [
      ["first build", () => build(), 1],
      ["nothing changed", () => build(), 0],
      ["a native source changed", async () => (touch("native/dir.c"), await build()), 1],
      ["nothing changed since", () => build(), 0],
      ["build.zig changed", async () => (touch("build.zig"), await build()), 1],
      ["tools/zig.sh changed", async () => (touch("tools/zig.sh"), await build()), 1],
      [
        // (cp -a, tar x, a clock behind: new content under an old time)
        "a native source's content changed, its time an hour back",
        async () => {
          const f = `${co}/native/dir.c`;
          await Deno.writeTextFile(f, "/* changed */\n", { append: true });
          Deno.utimeSync(f, hourAgo, hourAgo);
          return await build();
        },
        1,
      ],
      ["nothing changed since that", () => build(), 0],
      [
        "a file added to native/, both times an hour back",
        async () => {
          await Deno.writeTextFile(`${co}/native/new.h`, "/* new */\n");
          Deno.utimeSync(`${co}/native/new.h`, hourAgo, hourAgo);
          Deno.utimeSync(`${co}/native`, hourAgo, hourAgo);
          return await build();
        },
        1,
      ],
      ["another PWALK_OPTIMIZE", () => build({ PWALK_OPTIMIZE: "Debug" }), 1],
      ["back to the default", () => build(), 1],
      ["arguments", () => build({}, ["-Dtarget=native"]), 1],
      ["after a build with arguments", () => build(), 1],
      [
        "the library gone",
        async () => (Deno.removeSync(`${co}/zig-out/lib/libpwalk.so`), await build()),
        1,
      ],
    ];
    for (const [what, step, runs] of steps) {
      const before = zigRuns();
      const r = await step() as { code: number; stderr: string };
      assertEquals(r.code, 0, `${what}: ${r.stderr}`);
      assertEquals(zigRuns() - before, runs, what);
    }
    // a user who cannot write the checkout: current, nothing to do; stale, one line that says what to do
    const nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
    const current = await build({ HOME: tmp.path }, [], nobody);
    assertEquals([current.code, current.stderr], [0, ""]);
    touch("native/opts.c");
    const before = zigRuns();
    const stale = await build({ HOME: tmp.path }, [], nobody);
    assertEquals(stale.code, 1);
    assertEquals(
      stale.stderr,
      `pwalk: the native library must be built, and you cannot write ${co}: ask the checkout's ` +
        `owner to run \`deno task build\` in ${co}\n`,
    );
    assertEquals(zigRuns(), before);
  },
});
