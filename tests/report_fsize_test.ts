/**
 * The API's report() past a file size limit (`ulimit -f`, which a batch job
 * inherits): a write past RLIMIT_FSIZE raises SIGXFSZ, whose default action
 * kills the process (status 153) with the temporary output left behind.
 * The CLI listens for the signal; a script need not: the library blocks it
 * while it writes, so that the write fails with EFBIG and report() rejects
 * with "File too large", removing its `.partial`.  Both the output and the
 * errors file (errorsCsvFd) are checked, each in a child process under the
 * limit.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { REPO, run, UNPRIVILEGED } from "./helpers/run.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

/** A script that runs report(ROOT, {output: OUT[, errorsCsvFd: 3]}) and prints the outcome. */
const PROGRAM = `import { report } from ${JSON.stringify(`file://${REPO}/mod.ts`)};
const [root, output, fd] = Deno.args;
try {
  const s = await report(root, fd ? { output, errorsCsvFd: Number(fd) } : { output });
  console.log("resolved " + s.entries);
} catch (e) {
  console.log("rejected: " + (e as Error).message);
}
`;

/** Run PROGRAM under `ulimit -f blocks` (none: no limit), fd 3 appending to errs.
 * `--no-code-cache`: V8's code cache of a function first run on the error path
 * would be written into DENO_DIR under the limit (SIGXFSZ kills Deno itself). */
async function underLimit(
  dir: string,
  blocks: number | null,
  args: string[],
  errs: string,
  prefix: string[] = [],
) {
  const limit = blocks === null ? "" : `ulimit -f ${blocks}; `;
  const argv = [
    ...prefix,
    "sh",
    "-c",
    `${limit}exec "$0" run -A --no-check --no-code-cache "$@" 3>>"${errs}"`,
    Deno.execPath(),
    `${dir}/program.ts`,
    ...args,
  ];
  return await run(argv[0], argv.slice(1));
}

function files(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/**
 * In `dir`: tree/ (some 600 KB of CSV rows: past a 64 KiB limit),
 * program.ts (`program`), an empty out/ and the errors file's name; the
 * program run once without the limit, so that Deno's caches are written
 * before it (its output removed).
 */
async function limitSetup(
  dir: string,
  program: string,
): Promise<{ root: string; out: string; errs: string }> {
  const root = `${dir}/tree`;
  Deno.mkdirSync(`${root}/d`, { recursive: true });
  for (let i = 0; i < 3000; i++) Deno.writeTextFileSync(`${root}/d/${"n".repeat(120)}-${i}`, "x");
  Deno.writeTextFileSync(`${dir}/program.ts`, program);
  const out = `${dir}/out`;
  Deno.mkdirSync(out);
  const errs = `${dir}/unused.csv`;
  Deno.mkdirSync(`${dir}/small`);
  const warm = await underLimit(dir, null, [`${dir}/small`, `${out}/warm.csv`], errs);
  assertEquals([warm.code, warm.text], [0, "resolved 1\n"], warm.stderr);
  for (const name of files(out)) Deno.removeSync(`${out}/${name}`);
  return { root, out, errs };
}

Deno.test("report() past ulimit -f: rejects with File too large, the process lives, no .partial left", async () => {
  await using tmp = await tempDir();
  const { root, out, errs } = await limitSetup(tmp.path, PROGRAM);
  const r = await underLimit(tmp.path, 64, [root, `${out}/scan.csv`], errs);
  assertEquals([r.code, r.signal], [0, null], r.stderr);
  assertEquals(r.text, `rejected: pwalk: cannot write ${out}/scan.csv: File too large\n`);
  assertEquals(files(out), []);
});

testNeeding([SETPRIV], {
  name:
    "report() whose errors file is past ulimit -f: rejects with File too large, no .partial left",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    Deno.mkdirSync(`${root}/locked/in`, { recursive: true });
    Deno.writeTextFileSync(`${root}/f`, "x");
    Deno.chmodSync(`${root}/locked`, 0o000); // an error row (walked without privileges)
    Deno.writeTextFileSync(`${tmp.path}/program.ts`, PROGRAM);
    const out = `${tmp.path}/out`;
    Deno.mkdirSync(out);
    Deno.chmodSync(tmp.path, 0o755);
    // the errors file already past the limit: its first row cannot be appended
    const errs = `${tmp.path}/errs.csv`;
    const before = "e".repeat(128 * 1024);
    Deno.writeTextFileSync(errs, before);
    try {
      Deno.mkdirSync(`${tmp.path}/small`);
      const warm = await underLimit(
        tmp.path,
        null,
        [`${tmp.path}/small`, `${out}/warm.csv`, "3"],
        errs,
      );
      assertEquals([warm.code, warm.text], [0, "resolved 1\n"], warm.stderr);
      Deno.removeSync(`${out}/warm.csv`);
      const r = await underLimit(tmp.path, 64, [root, `${out}/scan.csv`, "3"], errs, UNPRIVILEGED);
      assertEquals([r.code, r.signal], [0, null], r.stderr);
      assertStringIncludes(r.text, "rejected: ");
      assertStringIncludes(r.text, "errors file: File too large");
      assertEquals(files(out), []);
      assertEquals(Deno.readTextFileSync(errs), before);
    } finally {
      Deno.chmodSync(`${root}/locked`, 0o755);
    }
  },
});

/** A script that runs runShard(planShards(ROOT), 0, {output: OUT}) and prints the outcome. */
const SHARD_PROGRAM = `import { planShards, runShard } from ${
  JSON.stringify(`file://${REPO}/mod.ts`)
};
const [root, output] = Deno.args;
const plan = await planShards(root, { shards: 1 });
try {
  const s = await runShard(plan, 0, { output });
  console.log("resolved " + s.rows);
} catch (e) {
  console.log("rejected: " + JSON.stringify((e as Error).message));
}
`;

Deno.test("runShard() past ulimit -f, its output named with a newline: rejects naming that output (escaped as one line), not its part's temporary name", async () => {
  await using tmp = await tempDir();
  const { root, out, errs } = await limitSetup(tmp.path, SHARD_PROGRAM);
  for (const name of ["plain.csv", "new\nline.csv"]) {
    const r = await underLimit(tmp.path, 64, [root, `${out}/${name}`], errs);
    assertEquals([r.code, r.signal], [0, null], r.stderr);
    // the name given, its line break written \n
    const shown = `${out}/${name}`.replaceAll("\n", "\\n");
    assertEquals(
      r.text,
      `rejected: ${JSON.stringify(`pwalk: cannot write ${shown}: File too large`)}\n`,
    );
    // (the part's temporary file is removed)
    assertEquals(files(out).filter((n) => !n.endsWith(".lock")), []);
  }
});
