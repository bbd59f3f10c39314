/**
 * `pwalk slurm` against a real Slurm: a single-node cluster started by the
 * test (helpers/slurm.ts: munged, slurmctld and slurmd in a temporary
 * folder, all stopped at the end) runs the job array on a tree with hostile
 * names. One shard is made to fail (its output path is a folder), a
 * resubmission is cancelled with scancel while it waits, another shard's
 * output and completion record are deleted; `pwalk status` says so at each
 * step, and `pwalk slurm --resume` resubmits exactly the shards that lack
 * a record until the shards' union equals a single run again. A copied scan
 * folder, whose job.sbatch still names the original, is refused by
 * --resume until its script names it.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { cli, run } from "./helpers/run.ts";
import { SLURM_NEEDS, startSlurm } from "./helpers/slurm.ts";
import {
  assertSameLines,
  checkRecords,
  shardTree,
  type TestPlan,
  unionLines,
  wholeLines,
} from "./helpers/shard.ts";
import { testNeeding, ZSTD } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { shellQuote } from "../lib/shell.ts";
import { waitFor } from "./helpers/wait.ts";

/** status's line of a task held by `sbatch --hold` (a RegExp source). */
const HELD = "Slurm: PENDING \\(JobHeldUser: held, it runs once released with scontrol release\\)";

testNeeding([...SLURM_NEEDS, ZSTD], {
  name: "pwalk slurm: a job array's shards equal a single run; status and --resume after failures",
  ignore: Deno.uid() !== 0, // the daemons run as root
  async fn(t) {
    await using slurm = await startSlurm();
    await using tmp = await tempDir();
    const env = slurm.env;
    const root = `${tmp.path}/tree`;
    await shardTree(root, 1500, 7);
    await wholeLines(root); // settle folder atimes
    const expected = await wholeLines(root);
    const dir = `${tmp.path}/scan`;
    // shard 2 cannot put its output in place: it fails
    await Deno.mkdir(`${dir}/scan-2.csv.zst`, { recursive: true });

    const sub = await cli(["slurm", root, "--shards", "4", "--out", dir, "--max-running", "3"], {
      env,
    });
    assertEquals(sub.code, 0, sub.stderr);
    const job = sub.text.trim();
    assertMatch(job, /^\d+$/);
    const plan: TestPlan = JSON.parse(await Deno.readTextFile(`${dir}/plan.json`));
    assertEquals(plan.shards, 4);
    // the script's note of its submission (a dry run's has none)
    assertStringIncludes(
      await Deno.readTextFile(`${dir}/job.sbatch`),
      `#   submit:  sbatch --array=0-3%3 ${shellQuote(`${dir}/job.sbatch`)}   (pwalk slurm did)\n`,
    );
    const name = `pwalk-${plan.id.slice(0, 8)}`;
    const queued = async () =>
      (await run("squeue", ["-h", "-r", `--name=${name}`, "-o", "%i %T"], { env })).text.trim();
    const drained = () =>
      waitFor(async () => (await queued()) === "", {
        what: "the job array to leave the queue",
        timeoutMs: 120_000,
        everyMs: 250,
        detail: slurm.logs,
      });
    const status = async () => {
      const r = await cli(["status", dir, "--json"], { env });
      const s = JSON.parse(r.text);
      return {
        code: r.code,
        states: s.shards.map((x: { state: string }) => x.state) as string[],
        details: s.shards.map((x: { detail?: string }) => x.detail ?? "") as string[],
      };
    };
    const submissions = async () =>
      JSON.parse(await Deno.readTextFile(`${dir}/slurm.json`)).submissions as {
        jobId: string;
        array: string;
      }[];

    await t.step("the array runs; the failed shard is told apart", async () => {
      await drained();
      const s = await status();
      assertEquals(s.code, 1);
      assertEquals(s.states, ["done", "done", "failed", "done"], s.details.join("\n"));
      assertMatch(s.details[2], new RegExp(`^logs/${job}_2\\.out: `));
      assertEquals(await submissions(), [{
        ...(await submissions())[0],
        jobId: job,
        array: "0-3",
        maxRunning: 3,
      }]);
    });

    await t.step("a resubmission cancelled with scancel while it waits", async () => {
      const r = await cli(["slurm", "--resume", dir, "--sbatch=--hold"], { env });
      assertEquals(r.code, 0, r.stderr);
      const held = r.text.trim();
      assertMatch(r.stderr, new RegExp(`resubmitted shard 2 \\(of 4\\) as job ${held}`));
      assertEquals((await submissions()).at(-1)?.array, "2");
      assertEquals(await queued(), `${held}_2 PENDING`);
      let s = await status();
      assertEquals(s.states, ["done", "done", "pending", "done"]);
      const text = await cli(["status", dir], { env });
      // (--hold: squeue's reason, and what it waits for)
      assertMatch(text.text, new RegExp(`^shard 2 {2}pending +${HELD}$`, "m"));
      // squeue's defaults from the user's environment would hide the
      // pending task (review): status still sees it, --resume leaves it
      const filtered = { ...env, SQUEUE_STATES: "RUNNING", SQUEUE_PARTITION: "nosuch" };
      assertEquals(
        (await run("squeue", ["-h", "-r", `--name=${name}`], { env: filtered })).text.trim(),
        "",
        "the premise: squeue itself lists nothing so",
      );
      const seen = await cli(["status", dir], { env: filtered });
      assertMatch(seen.text, new RegExp(`^shard 2 {2}pending +${HELD}$`, "m"));
      const dry = await cli(["slurm", "--resume", dir, "--dry-run"], { env: filtered });
      assertEquals([dry.code, dry.text], [0, ""], dry.stderr);
      assertStringIncludes(dry.stderr, "nothing to resubmit");
      // a done shard's task queued again (requeued, or submitted by hand):
      // its rerun removes the record as it starts, so the scan is not complete
      const again = await run(
        "sbatch",
        ["--parsable", "--hold", "--array=1", `${dir}/job.sbatch`],
        {
          env,
        },
      );
      assertEquals(again.code, 0, again.stderr);
      s = await status();
      assertEquals([s.code, s.states], [1, ["done", "pending", "pending", "done"]]);
      assertMatch(
        s.details[1],
        new RegExp(`^${HELD}, though scan-1\\.done\\.json is there: a rerun`),
      );
      assertEquals(
        (await run("scancel", [held, again.text.trim().split(";")[0]], { env })).code,
        0,
      );
      await drained();
      s = await status();
      assertEquals(s.states, ["done", "done", "failed", "done"]);
    });

    await t.step(
      "a lost shard and the failed one are resubmitted, alone, and complete the scan",
      async () => {
        await Deno.remove(`${dir}/scan-2.csv.zst`);
        await Deno.remove(`${dir}/scan-1.csv.zst`);
        await Deno.remove(`${dir}/scan-1.done.json`);
        let s = await status();
        assertEquals(s.states, ["done", "failed", "failed", "done"]);
        const r = await cli(["slurm", "--resume", dir], { env });
        assertEquals(r.code, 0, r.stderr);
        const again = r.text.trim();
        assertEquals((await submissions()).at(-1), {
          ...(await submissions()).at(-1)!,
          jobId: again,
          array: "1-2",
        });
        await drained();
        s = await status();
        assertEquals(s.code, 0, s.details.join("\n"));
        assertEquals(s.states, ["done", "done", "done", "done"]);
        assertSameLines(await unionLines(dir, 4), expected, "the shards' union");
        await checkRecords(dir, plan);
        for (let i = 0; i < 4; i++) {
          const rec = JSON.parse(await Deno.readTextFile(`${dir}/scan-${i}.done.json`));
          assertEquals(rec.slurm.arrayJobId, i === 1 || i === 2 ? again : job, `shard ${i}`);
          assertEquals(rec.slurm.arrayTaskId, String(i));
        }
        const done = await cli(["slurm", "--resume", dir], { env });
        assertEquals(done.code, 0);
        assertMatch(done.stderr, /nothing to resubmit/);
        assert(!(await queued()), "nothing was submitted");
      },
    );

    await t.step(
      "a shard run by hand (its lock held): status says running, --resume leaves it and its temporary",
      async () => {
        await Deno.remove(`${dir}/scan-3.csv.zst`);
        await Deno.remove(`${dir}/scan-3.done.json`);
        // a run of shard 3 outside Slurm, as report --plan takes its lock:
        // flock on scan-3.lock, its pid and host written in it; its temporary beside
        const lock = `${dir}/scan-3.lock`;
        const holder = new Deno.Command(Deno.execPath(), {
          args: [
            "eval",
            `const f = await Deno.open(${
              JSON.stringify(lock)
            }, { read: true, write: true, create: true });
await f.lock(true);
await f.write(new TextEncoder().encode("pid " + Deno.pid + " on " + Deno.hostname() + "\\n"));
console.log("locked");
await new Promise(() => setInterval(() => {}, 1000));`,
          ],
          stdout: "piped",
        }).spawn();
        const reader = holder.stdout.getReader();
        assertEquals(new TextDecoder().decode((await reader.read()).value).trim(), "locked");
        const temp = `${dir}/scan-3.csv.zst.partial-${holder.pid}-0`;
        await Deno.writeTextFile(temp, "rows so far");
        try {
          const s = await status();
          assertEquals(s.states, ["done", "done", "done", "running"], s.details.join("\n"));
          assertMatch(s.details[3], new RegExp(`^pid ${holder.pid} on \\S+, outside Slurm`));
          // squeue not answering: a Slurm task's run would look so too, so
          // it is not called one outside Slurm (review)
          const bin = `${tmp.path}/bin`;
          await Deno.mkdir(bin, { recursive: true });
          await Deno.writeTextFile(`${bin}/squeue`, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
          const silent = await cli(["status", dir, "--json"], {
            env: { ...env, PATH: `${bin}:${Deno.env.get("PATH")}` },
          });
          const d3 = JSON.parse(silent.text).shards[3].detail;
          assertEquals(d3, `pid ${holder.pid} on ${Deno.hostname()} (scan-3.lock is its lock)`);
          const r = await cli(["slurm", "--resume", dir], { env });
          assertEquals(r.code, 0, r.stderr);
          assertMatch(r.stderr, /not resubmitted: shard 3 is running outside Slurm \(pid \d+ on /);
          assertMatch(r.stderr, /nothing to resubmit/);
          assert(!(await queued()), "nothing was submitted");
          assertEquals(await Deno.readTextFile(temp), "rows so far", "its temporary kept");
          // the same lock held for a run on another node: status cannot tell
          // it from a dead run, --resume finds the lock held and leaves it
          await Deno.writeTextFile(lock, "pid 4242 on node-elsewhere\n");
          const s2 = await status();
          assertEquals(s2.states[3], "incomplete", s2.details.join("\n"));
          assertMatch(s2.details[3], /names pid 4242 on node-elsewhere: running there, or it died/);
          const r2 = await cli(["slurm", "--resume", dir], { env });
          assertEquals(r2.code, 0, r2.stderr);
          assertMatch(
            r2.stderr,
            /not resubmitted: shard 3 is already running \(pid 4242 on node-elsewhere\)/,
          );
          assert(!(await queued()), "nothing was submitted");
          assertEquals(await Deno.readTextFile(temp), "rows so far", "its temporary kept");
        } finally {
          holder.kill("SIGKILL");
          await holder.status;
          await reader.cancel();
        }
        // the holder died (kill -9): its lock file stays, naming a process gone from this host
        await Deno.writeTextFile(lock, `pid ${holder.pid} on ${Deno.hostname()}\n`);
        const dead = await status();
        assertEquals(dead.states[3], "incomplete", dead.details.join("\n"));
        assertMatch(dead.details[3], /on this host, which is not running: it died$/);
        // a dry run of the resume says what it would do and leaves DIR as it
        // is: the dead run's lock file and temporary, which status names (review)
        const before = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
        const dry = await cli(["slurm", "--resume", dir, "--dry-run"], { env });
        assertEquals(dry.code, 0, dry.stderr);
        assertMatch(dry.stderr, /would resubmit shard 3 \(of 4\)/);
        assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), before);
        assertEquals(await Deno.readTextFile(lock), `pid ${holder.pid} on ${Deno.hostname()}\n`);
        assertEquals((await status()).details[3], dead.details[3]);
        // its temporary is a dead run's, removed, and the shard rerun
        const r = await cli(["slurm", "--resume", dir], { env });
        assertEquals(r.code, 0, r.stderr);
        assertMatch(r.stderr, /resubmitted shard 3 \(of 4\)/);
        await drained();
        const s = await status();
        assertEquals(s.states, ["done", "done", "done", "done"], s.details.join("\n"));
        assert(!(await Deno.stat(temp).catch(() => null)), "the dead run's temporary removed");
        assertSameLines(await unionLines(dir, 4), expected, "the shards' union");
      },
    );

    await t.step(
      "a first submission sbatch refuses: its error shown, nothing left; corrected, it runs",
      async () => {
        const dir2 = `${tmp.path}/scan2`;
        const args = ["slurm", root, "--shards", "2", "--out", dir2];
        const bad = await cli([...args, "--sbatch=--bogus-opt"], { env });
        assertEquals(bad.code, 1, bad.stderr);
        assertStringIncludes(bad.stderr, "unrecognized option '--bogus-opt'");
        assertEquals(bad.stderr.trim().split("\n").length, 1, bad.stderr);
        assert(!(await Deno.lstat(dir2).catch(() => null)), "the scan folder was left");
        const good = await cli(args, { env });
        assertEquals(good.code, 0, good.stderr);
        const s = () => cli(["status", dir2], { env });
        await waitFor(async () => (await s()).code === 0, {
          what: "the corrected scan to be done",
          timeoutMs: 120_000,
          everyMs: 250,
          detail: slurm.logs,
        });
        assertSameLines(await unionLines(dir2, 2), expected, "the corrected scan's union");
      },
    );

    await t.step(
      "a scan folder copied, its original kept or moved away: --resume refuses (2), submits nothing; fixed, it resumes there",
      async () => {
        const dir2 = `${tmp.path}/scan2`, copy = `${tmp.path}/scan2-copy`;
        const all = async () => (await run("squeue", ["-h", "-r"], { env })).text.trim();
        // the original's files as stat sees them: the copy's resume must not touch them
        const stamp = async (d: string) =>
          (await run("sh", ["-c", 'cd "$1" && stat -c "%n %s %Y %i" scan-*', "sh", d])).text;
        assertEquals((await run("cp", ["-a", dir2, copy])).code, 0);
        await Deno.remove(`${copy}/scan-1.csv.zst`);
        await Deno.remove(`${copy}/scan-1.done.json`);
        const before = await stamp(dir2);
        const subs = await Deno.readTextFile(`${copy}/slurm.json`);
        const refused = async (d: string, why: RegExp) => {
          for (const dry of [[], ["--dry-run"]]) {
            const r = await cli(["slurm", "--resume", d, ...dry], { env });
            assertEquals(r.code, 2, r.stderr);
            assertMatch(r.stderr, why);
            assertEquals(r.stderr.split("\n").length, 2, r.stderr);
            assertEquals(r.text, "");
          }
          assertEquals(await all(), "", "nothing was submitted");
          assertEquals(await Deno.readTextFile(`${d}/slurm.json`), subs);
        };
        const msg = (old: string, d: string, gone = "") =>
          new RegExp(
            `^pwalk: ${d}/job\\.sbatch was written for ${old}${gone}, not for ${d}: the scan ` +
              `folder was moved or copied, and its tasks would write there; nothing was ` +
              `resubmitted \\(move the folder back, or replace ${old} by ${d} in ${d}/job\\.sbatch\\)$`,
            "m",
          );
        // a copy, the original still there: its tasks would replace the original's files
        await refused(copy, msg(dir2, copy));
        assertEquals(await stamp(dir2), before, "the original's files");
        // the original moved away, its old path gone: the copy's tasks would fail, their logs lost
        const aside = `${tmp.path}/scan2-aside`;
        await Deno.rename(dir2, aside);
        await refused(copy, msg(dir2, copy, " \\(gone\\)"));
        // the remedy the message gives; then --resume through a link to the folder
        const job = `${copy}/job.sbatch`;
        await Deno.writeTextFile(job, (await Deno.readTextFile(job)).replaceAll(dir2, copy));
        await Deno.symlink(copy, `${tmp.path}/link`);
        const r = await cli(["slurm", "--resume", `${tmp.path}/link`], { env });
        assertEquals(r.code, 0, r.stderr);
        assertMatch(r.stderr, /resubmitted shard 1 \(of 2\) as job \d+/);
        await waitFor(async () => (await all()) === "", {
          what: "the resumed shard to leave the queue",
          timeoutMs: 120_000,
          everyMs: 250,
          detail: slurm.logs,
        });
        const st = await cli(["status", copy], { env });
        assertEquals(st.code, 0, st.text + st.stderr);
        assertSameLines(await unionLines(copy, 2), expected, "the copy's union");
        assertEquals(await stamp(aside), before, "the original's files");
        assertEquals(
          await Deno.lstat(dir2).catch(() => null),
          null,
          "nothing made at the old path",
        );
      },
    );

    await t.step(
      "job.sbatch submitted by hand after --dry-run (no slurm.json): status finds its tasks in squeue",
      async () => {
        const dir3 = `${tmp.path}/scan3`;
        const dry = await cli(["slurm", root, "--shards", "2", "--out", dir3, "--dry-run"], {
          env,
        });
        assertEquals(dry.code, 0, dry.stderr);
        const sb = await run("sbatch", [
          "--parsable",
          "--hold",
          "--array=0-1",
          `${dir3}/job.sbatch`,
        ], {
          env,
        });
        assertEquals(sb.code, 0, sb.stderr);
        const held = sb.text.trim().split(";")[0];
        assert(!(await Deno.lstat(`${dir3}/slurm.json`).catch(() => null)), "no slurm.json");
        const r = await cli(["status", dir3, "--json"], { env });
        assertEquals(r.code, 1, r.stderr);
        assertEquals(
          JSON.parse(r.text).shards.map((x: { state: string; detail?: string }) =>
            `${x.state} ${x.detail}`
          ),
          [0, 1].map(() => `pending ${HELD.replaceAll("\\", "")}`),
        );
        assertEquals((await run("scancel", [held], { env })).code, 0);
        await waitFor(
          async () => (await run("squeue", ["-h", "-r", "-j", held], { env })).text.trim() === "",
          { what: "the held job to leave the queue", timeoutMs: 60_000, everyMs: 250 },
        );
      },
    );
  },
});
