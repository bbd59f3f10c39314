/**
 * What `pwalk slurm` takes from `--sbatch`, and how status and --resume
 * find the tasks it submitted: an `--sbatch` option that would override the
 * job name, the task logs or the array pwalk sets is refused (exit 2, nothing
 * written); against a real single-node Slurm (helpers/slurm.ts),
 * SBATCH_JOB_NAME, SBATCH_OUTPUT and SBATCH_ERROR in the environment do
 * not move the tasks' name or logs, a job renamed after its submission is
 * still found by the job id slurm.json records, so --resume submits
 * nothing twice; and a second `pwalk slurm --resume` of a folder while the
 * first waits on sbatch is refused (exit 1), submitting nothing.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { cli, run, spawnCli, UNPRIVILEGED } from "./helpers/run.ts";
import { SLURM_NEEDS, startSlurm } from "./helpers/slurm.ts";
import { requireTool, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { waitFor } from "./helpers/wait.ts";

/** `pwalk slurm ROOT --shards 2 --out DIR --dry-run`, each of `sbatch` given as --sbatch=VALUE. */
function slurmDryRun(root: string, dir: string, sbatch: string[]): ReturnType<typeof cli> {
  return cli([
    "slurm",
    root,
    "--shards",
    "2",
    "--out",
    dir,
    "--dry-run",
    ...sbatch.map((a) => `--sbatch=${a}`),
  ]);
}

/** A small tree: three folders of one file each. */
async function threeFolders(root: string): Promise<void> {
  for (const d of ["a", "b", "c"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}/f`, d);
  }
}

Deno.test("--sbatch setting the job name, the task logs or the array: refused (exit 2), nothing written; other options taken", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await threeFolders(root);
  const dir = `${tmp.path}/scan`;
  const named = "status and --resume find the tasks in squeue by their job name";
  const logs = "status reads the tasks' logs in DIR/logs";
  const array = "each submission's array is the shards it runs";
  for (
    const [arg, own, why] of [
      ["--job-name=myscan", "--job-name", named],
      ["--job-name myscan", "--job-name", named],
      ["--job=myscan", "--job-name", named],
      ["-J", "-J", named],
      ["-J myscan", "-J", named],
      ["-Jmyscan", "-J", named],
      ["-HJmyscan", "-J", named],
      ["--hold --job-name=myscan", "--job-name", named],
      ["--output=/tmp/x.out", "--output", logs],
      ["--out=/tmp/x.out", "--output", logs],
      ["-o /tmp/x.out", "-o", logs],
      ["--error=/tmp/x.err", "--error", logs],
      ["-e", "-e", logs],
      ["-Q -e /tmp/x.err", "-e", logs],
      ["--array=0-99", "--array", array],
      ["-a 3", "-a", array],
    ]
  ) {
    for (const form of [[`--sbatch=${arg}`], ["--sbatch", arg]]) {
      const r = await cli(["slurm", root, "--shards", "2", "--out", dir, "--dry-run", ...form]);
      assertEquals(r.code, 2, `${arg}: ${r.stderr}`);
      assertEquals(
        r.stderr,
        `pwalk: --sbatch ${arg}: pwalk sets ${own} itself (${why}); leave it out\n`,
      );
      assertEquals(r.text, "");
      assert(!(await Deno.lstat(dir).catch(() => null)), `${arg}: the scan folder was made`);
    }
  }
  // options that only look alike: taken, one #SBATCH line each
  const taken = [
    "--exclusive",
    "--export=ALL",
    "--open-mode=append",
    "-p debug",
    "-Hc2",
    "--comment='a -J b'",
    "-A account",
  ];
  const ok = await slurmDryRun(root, dir, taken);
  assertEquals(ok.code, 0, ok.stderr);
  const script = await Deno.readTextFile(`${dir}/job.sbatch`);
  for (const a of taken) assert(script.includes(`\n#SBATCH ${a}\n`), `${a}: ${script}`);
  // --resume refuses them alike, before asking Slurm anything
  const r = await cli(["slurm", "--resume", dir, "--dry-run", "--sbatch=-J", "--sbatch=x"]);
  assertEquals(r.code, 2, r.stderr);
  assertMatch(r.stderr, /^pwalk: --sbatch -J: pwalk sets -J itself .*\n$/);
});

Deno.test("slurm takes --maxthreads N as --threads N, as report, repair and chown do (--help says so)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await threeFolders(root);
  const scripts: string[] = [];
  for (
    const [i, form] of [["--threads", "4"], ["--maxthreads", "4"], ["--maxthreads=4"]].entries()
  ) {
    const dir = `${tmp.path}/scan${i}`;
    const r = await cli(["slurm", root, "--shards", "2", "--out", dir, "--dry-run", ...form]);
    assertEquals(r.code, 0, `${form.join(" ")}: ${r.stderr}`);
    // the line that runs the shard (the plan's id differs from run to run)
    const exec = Deno.readTextFileSync(`${dir}/job.sbatch`).split("\n").find((l) =>
      l.includes("--plan")
    );
    scripts.push(exec!.replaceAll(dir, "DIR"));
  }
  assertMatch(scripts[0], / --threads 4$/);
  assertEquals(scripts[1], scripts[0]);
  assertEquals(scripts[2], scripts[0]);
  assertMatch((await cli(["slurm", "--help"])).text, /--maxthreads N/);
});

testNeeding([...SLURM_NEEDS, requireTool("scontrol", "slurm-wlm")], {
  name:
    "pwalk slurm on a real Slurm: its job name and logs kept; tasks found by job id; one submission of a folder at a time",
  ignore: Deno.uid() !== 0, // the daemons run as root
  async fn(t) {
    await using slurm = await startSlurm();
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await threeFolders(root);
    const all = async () =>
      (await run("squeue", ["-h", "-r", "-o", "%F %K %T"], { env: slurm.env })).text.trim()
        .split("\n").filter(Boolean);
    const cancel = async (ids: string[]) => {
      if (ids.length) assertEquals((await run("scancel", ids, { env: slurm.env })).code, 0);
      await waitFor(async () => (await all()).length === 0, {
        what: "the queue to empty",
        timeoutMs: 60_000,
        everyMs: 250,
        detail: slurm.logs,
      });
    };
    const states = async (dir: string) => {
      const r = await cli(["status", dir, "--json"], { env: slurm.env });
      return JSON.parse(r.text).shards.map((x: { state: string }) => x.state) as string[];
    };

    await t.step(
      "SBATCH_JOB_NAME, SBATCH_OUTPUT, SBATCH_ERROR in the environment: pwalk's name and logs kept",
      async () => {
        const dir = `${tmp.path}/named`;
        // shard 1 cannot put its output in place: it fails, and its log says why
        await Deno.mkdir(`${dir}/scan-1.csv.zst`, { recursive: true });
        const elsewhere = `${tmp.path}/elsewhere`;
        await Deno.mkdir(elsewhere);
        const env = {
          ...slurm.env,
          SBATCH_JOB_NAME: "myscan",
          SBATCH_OUTPUT: `${elsewhere}/%A_%a.out`,
          SBATCH_ERROR: `${elsewhere}/%A_%a.err`,
        };
        const sub = await cli(["slurm", root, "--shards", "2", "--out", dir], { env });
        assertEquals(sub.code, 0, sub.stderr);
        const job = sub.text.trim();
        await waitFor(async () => (await all()).length === 0, {
          what: "the job array to leave the queue",
          timeoutMs: 120_000,
          everyMs: 250,
          detail: slurm.logs,
        });
        assertEquals([...Deno.readDirSync(elsewhere)], [], "task logs written elsewhere");
        assertEquals(
          [...Deno.readDirSync(`${dir}/logs`)].map((e) => e.name).sort(),
          [`${job}_0.out`, `${job}_1.out`],
        );
        const r = await cli(["status", dir, "--json"], { env });
        const s = JSON.parse(r.text).shards as { state: string; detail?: string }[];
        assertEquals(s.map((x) => x.state), ["done", "failed"], r.text);
        assertMatch(s[1].detail!, new RegExp(`^logs/${job}_1\\.out: `));
      },
    );

    await t.step(
      "a job renamed after its submission (scontrol): status and --resume find its tasks by job id",
      async () => {
        const dir = `${tmp.path}/renamed`;
        const sub = await cli(
          ["slurm", root, "--shards", "2", "--out", dir, "--sbatch=--hold"],
          { env: slurm.env },
        );
        assertEquals(sub.code, 0, sub.stderr);
        const job = sub.text.trim();
        try {
          const renamed = await run("scontrol", ["update", `JobId=${job}`, "JobName=myscan"], {
            env: slurm.env,
          });
          assertEquals(renamed.code, 0, renamed.stderr);
          // squeue: the tasks are not pwalk's name's now
          const names = await run("squeue", ["-h", "-r", "-j", job, "-o", "%j"], {
            env: slurm.env,
          });
          assertEquals(names.text.trim().split("\n"), ["myscan", "myscan"]);
          assertEquals(await states(dir), ["pending", "pending"]);
          const r = await cli(["slurm", "--resume", dir, "--dry-run"], { env: slurm.env });
          assertEquals(r.code, 0, r.stderr);
          assertMatch(r.stderr, /nothing to resubmit/);
          assertEquals(r.text, "");
        } finally {
          await cancel([job]);
        }
      },
    );

    await t.step(
      "two --resume of one folder at once: the second refused (1), each shard submitted once",
      async () => {
        const dir = `${tmp.path}/twice`;
        const dry = await cli(["slurm", root, "--shards", "2", "--out", dir, "--dry-run"], {
          env: slurm.env,
        });
        assertEquals(dry.code, 0, dry.stderr);
        // an sbatch whose first call waits (its marker made) until the test lets it go
        const real = (await run("sh", ["-c", "command -v sbatch"])).text.trim();
        const bin = `${tmp.path}/bin`;
        await Deno.mkdir(bin);
        const go = `${tmp.path}/go`;
        assertEquals((await run("mkfifo", [go])).code, 0);
        await Deno.writeTextFile(
          `${bin}/sbatch`,
          `#!/bin/sh\nif mkdir '${tmp.path}/first' 2>/dev/null; then\n  read line < '${go}'\nfi\n` +
            `exec '${real}' "$@"\n`,
          { mode: 0o755 },
        );
        const env = { ...slurm.env, PATH: `${bin}:${Deno.env.get("PATH")}` };
        const first = spawnCli(["slurm", "--resume", dir, "--sbatch=--hold"], { env });
        const ids: string[] = [];
        try {
          await waitFor(() => Deno.lstat(`${tmp.path}/first`).then(() => true, () => false), {
            what: "the first --resume to call sbatch",
            timeoutMs: 60_000,
            everyMs: 100,
          });
          const second = await cli(["slurm", "--resume", dir, "--sbatch=--hold"], { env });
          assertEquals(second.code, 1, second.stderr);
          assertEquals(second.text, "");
          assertEquals(
            second.stderr,
            `pwalk: ${dir} is being submitted by another pwalk slurm (pid ${first.pid} on ` +
              `${Deno.hostname()}), which holds ${dir}/slurm.lock: nothing was submitted; wait ` +
              `for it to end (pwalk status ${dir} then tells what is left)\n`,
          );
          await Deno.writeTextFile(go, "go\n");
          const out = await first.output();
          const text = new TextDecoder().decode(out.stdout).trim();
          assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
          ids.push(text);
          // squeue: each shard once, of the job slurm.json records alone
          assertEquals((await all()).sort(), [`${text} 0 PENDING`, `${text} 1 PENDING`]);
          const subs = JSON.parse(await Deno.readTextFile(`${dir}/slurm.json`)).submissions;
          assertEquals(subs.map((x: { jobId: string }) => x.jobId), [text]);
          assert(!(await Deno.lstat(`${dir}/slurm.lock`).catch(() => null)), "slurm.lock left");
          // and now a --resume finds them queued: nothing submitted
          const third = await cli(["slurm", "--resume", dir], { env });
          assertEquals(third.code, 0, third.stderr);
          assertMatch(third.stderr, /nothing to resubmit/);
        } finally {
          // the first let go whatever happened (its sbatch reads the FIFO)
          if (!ids.length) {
            await Deno.open(go, { write: true }).then((f) => f.close()).catch(() => {});
            await first.output().catch(() => {});
          }
          const left = (await all()).map((l) => l.split(" ")[0]);
          await cancel([...new Set(left)]);
        }
      },
    );
  },
});

Deno.test("--sbatch with --resume: sbatch gets a value split and unquoted as it reads the same #SBATCH line", async () => {
  const { submitShards } = await import("../lib/shard/slurm.ts");
  const lines = ['--comment="two words"', "--qos=low --nice=5", "--comment='a b' --hold"];
  const s = await submitShards("/nonexistent/scan", [1, 3], { sbatch: lines, dryRun: true });
  // the reference: how sh splits and unquotes the same text (sbatch's rule
  // for an #SBATCH line: blanks split, quotes group and are removed)
  const sh = new Deno.Command("sh", {
    args: ["-c", `for a in ${lines.join(" ")}; do printf '%s\\0' "$a"; done`],
  }).outputSync();
  const want = new TextDecoder().decode(sh.stdout).split("\0").slice(0, -1);
  assertEquals(want[0], "--comment=two words");
  assertEquals(s.command.slice(3, -1), want);
});

Deno.test("slurm --resume --dry-run prints the sbatch command quoted for the shell: sh reads back the words it would run", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await threeFolders(root);
  const dir = `${tmp.path}/scan`;
  const made = await slurmDryRun(root, dir, []);
  assertEquals(made.code, 0, made.stderr);
  // squeue answers, with no task queued (no Slurm here: a stand-in on PATH)
  const bin = `${tmp.path}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(`${bin}/squeue`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const r = await cli(
    ["slurm", "--resume", dir, "--dry-run", '--sbatch=--comment="two words" --hold'],
    { env: { PATH: `${bin}:${Deno.env.get("PATH")}` } },
  );
  assertEquals(r.code, 0, r.stderr);
  const line = r.text.trim();
  // the reference: the words sh makes of the printed line
  const sh = new Deno.Command("sh", {
    args: ["-c", `eval "set -- $1"; printf '%s\\0' "$@"`, "sh", line],
  }).outputSync();
  const words = new TextDecoder().decode(sh.stdout).split("\0").slice(0, -1);
  assertEquals(words[0], "sbatch");
  assert(words.includes("--comment=two words"), line);
  assert(words.includes("--hold"), line);
  assertEquals(words.at(-1), `${dir}/job.sbatch`);
});

Deno.test({
  name: "slurm --resume from a working folder the runner cannot search: squeue is still asked",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await threeFolders(root);
    const dir = `${tmp.path}/scan`;
    const made = await slurmDryRun(root, dir, []);
    assertEquals(made.code, 0, made.stderr);
    // a stand-in squeue (no Slurm here) that says it was run
    const bin = `${tmp.path}/bin`, asked = `${tmp.path}/asked`;
    await Deno.mkdir(bin);
    await Deno.writeTextFile(`${bin}/squeue`, `#!/bin/sh\necho yes > '${asked}'\n`, {
      mode: 0o755,
    });
    const closed = `${tmp.path}/closed`;
    await Deno.mkdir(closed);
    await Deno.chmod(closed, 0o000);
    const o = { prefix: UNPRIVILEGED, cwd: closed };
    // the premise: the runner (uid 0 without capabilities) cannot search it
    assertEquals((await run("ls", ["."], o)).code, 2, "ls reads the working folder");
    const r = await cli(["slurm", "--resume", dir, "--dry-run"], {
      ...o,
      env: { PATH: `${bin}:${Deno.env.get("PATH")}` },
    });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(Deno.readTextFileSync(asked), "yes\n", "squeue not run");
    assertEquals(r.stderr.includes("squeue"), false, r.stderr);
  },
});

Deno.test("--sbatch values sbatch reads otherwise in an #SBATCH line (backslash, #, empty or unmatched quotes) are refused (exit 2), nothing written", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await threeFolders(root);
  for (
    const arg of ["--comment=a\\ b", "--comment=x#y", '--comment="a', "''", "--job\\-name=evil"]
  ) {
    const dir = `${tmp.path}/scan`;
    const r = await slurmDryRun(root, dir, [arg]);
    assertEquals(r.code, 2, `${arg}: ${r.stderr}`);
    assertEquals(r.stderr.split("\n").filter((l) => l).length, 1, r.stderr);
    assertMatch(r.stderr, /^pwalk: --sbatch .*: no backslash, #, empty or unmatched quotes/);
    assertEquals(await Deno.lstat(dir).then(() => true, () => false), false, `${arg}: written`);
  }
  // quoted blanks and a quoted # stay taken
  const ok = await slurmDryRun(root, `${tmp.path}/ok`, ['--comment="two words #1"']);
  assertEquals(ok.code, 0, ok.stderr);
});
