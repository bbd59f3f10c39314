/**
 * `pwalk slurm` stopped by a signal: while it plans, nothing is submitted
 * and nothing of the run is left in DIR (one line, 128 + the signal's
 * number); while sbatch runs, sbatch is waited for and its job recorded,
 * never orphaned to submit after pwalk is gone.
 *
 * References: a fake sbatch's own record of the calls it took, DIR's
 * files, slurm.json.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { existsSync } from "node:fs";
import { scanStatus } from "../mod.ts";
import { spawnCli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { waitFor } from "./helpers/wait.ts";
import { openNames } from "./helpers/proc.ts";
import { makePlan } from "./helpers/shard.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, testNeeding } from "./helpers/system.ts";

/** A fake sbatch (job 77) that says it started, then waits for `${dir}/go`; and a squeue of nothing. */
function slowSbatch(bin: string, dir: string): Record<string, string> {
  Deno.mkdirSync(bin);
  Deno.writeTextFileSync(
    `${bin}/sbatch`,
    `#!/bin/sh\ntouch ${dir}/started\nwhile [ ! -e ${dir}/go ]; do sleep 0.05; done\n` +
      `echo "$*" >> ${dir}/calls\necho 77\n`,
  );
  Deno.writeTextFileSync(`${bin}/squeue`, "#!/bin/sh\nexit 0\n");
  Deno.chmodSync(`${bin}/sbatch`, 0o755);
  Deno.chmodSync(`${bin}/squeue`, 0o755);
  return { PATH: `${bin}:${Deno.env.get("PATH")}` };
}

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

Deno.test("pwalk slurm: SIGTERM while sbatch runs waits for it: the job recorded, not orphaned (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  Deno.mkdirSync(`${root}/a`, { recursive: true });
  Deno.mkdirSync(`${root}/b`);
  const env = slowSbatch(`${tmp.path}/bin`, tmp.path);
  const dir = `${tmp.path}/scan`;
  const p = spawnCli(["slurm", root, "--shards", "2", "--out", dir], { env });
  await waitFor(() => exists(`${tmp.path}/started`), { what: "sbatch started" });
  p.kill("SIGTERM");
  // (the signal's listener runs meanwhile; then sbatch may end)
  await new Promise((r) => setTimeout(r, 200));
  Deno.writeTextFileSync(`${tmp.path}/go`, "");
  const r = await p.output();
  const stderr = new TextDecoder().decode(r.stderr);
  assertEquals([r.code, new TextDecoder().decode(r.stdout)], [0, "77\n"], stderr);
  assertMatch(stderr, /^pwalk slurm: submitted job 77 /m);
  assertMatch(stderr, /^pwalk slurm: SIGTERM came while sbatch ran; it was let end$/m);
  const subs = JSON.parse(Deno.readTextFileSync(`${dir}/slurm.json`)).submissions;
  assertEquals(subs.map((s: { jobId: string }) => s.jobId), ["77"]);
  assertEquals(Deno.readTextFileSync(`${tmp.path}/calls`).trim().split("\n").length, 1);
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "pwalk slurm: SIGTERM while the tree is listed: one line, 143, nothing submitted, nothing left in DIR (review)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const src = `${tmp.path}/src`;
    Deno.mkdirSync(`${src}/deep/x`, { recursive: true });
    Deno.mkdirSync(`${src}/b`);
    // the root answers at once; the listing of deep/ waits 0.4 s a request
    // (several requests: the signal lands within it; and the stop, which
    // waits for the request it is in, ends well within the 2 s after which
    // a "stopping" line would be said)
    await using fs = await mountSlowfs(tmp.path, src, {
      SLOWFS_DELAY_US: "400000",
      SLOWFS_ONLY: "deep",
    });
    const env = slowSbatch(`${tmp.path}/bin`, tmp.path);
    const dir = `${tmp.path}/scan`;
    const p = spawnCli(["slurm", fs.path, "--shards", "2", "--out", dir], { env });
    // a thread of it waits for the mount's answer to a request on deep/,
    // which the server is slow to give: it is listing the tree (not in a
    // quick request on ROOT, looked at before, which a loaded machine may
    // catch it in)
    await waitFor(() => {
      if (!fs.slowRequest()) return false;
      for (const t of Deno.readDirSync(`/proc/${p.pid}/task`)) {
        const w = Deno.readTextFileSync(`/proc/${p.pid}/task/${t.name}/wchan`);
        if (/fuse|request_wait_answer/.test(w)) return true;
      }
      return false;
    }, { what: "pwalk slurm listing the slow folder", detail: () => fs.describe() });
    p.kill("SIGTERM");
    const r = await p.output();
    const stderr = new TextDecoder().decode(r.stderr);
    assertEquals([r.code, new TextDecoder().decode(r.stdout)], [143, ""], stderr);
    assertEquals(
      stderr.split("\n").filter((l) => l),
      [
        `pwalk slurm: interrupted by SIGTERM; nothing was submitted, and no plan or script of ` +
        `this run is left in ${dir}`,
      ],
    );
    assert(!(await exists(`${tmp.path}/started`)), "sbatch not run");
    assert(!(await exists(dir)), "DIR not made");
  },
});

Deno.test("pwalk slurm: an sbatch that hangs after a signal: 'stopping' said, a second signal quits (128+n), saying what is not known (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  Deno.mkdirSync(`${root}/a`, { recursive: true });
  const env = slowSbatch(`${tmp.path}/bin`, tmp.path);
  const dir = `${tmp.path}/scan`;
  const p = spawnCli(["slurm", root, "--shards", "2", "--out", dir], { env });
  const guard = setTimeout(() => p.kill("SIGKILL"), 60_000); // a hang guard
  try {
    await waitFor(() => exists(`${tmp.path}/started`), { what: "sbatch started" });
    p.kill("SIGTERM");
    const reader = p.stderr.getReader();
    let stderr = "";
    while (!stderr.includes("stopping (SIGTERM)")) {
      const c = await reader.read();
      if (c.done) break;
      stderr += new TextDecoder().decode(c.value);
    }
    assertMatch(
      stderr,
      /^pwalk slurm: stopping \(SIGTERM\): waiting for the planning or sbatch \(a hung file system\?\); SIGTERM again quits without waiting for it$/m,
    );
    p.kill("SIGTERM");
    for (let c = await reader.read(); !c.done; c = await reader.read()) {
      stderr += new TextDecoder().decode(c.value);
    }
    await p.stdout.cancel();
    const r = await p.status;
    assert(r.signal !== "SIGKILL", `killed by the hang guard: ${stderr}`);
    assertEquals([r.code, r.signal], [143, "SIGTERM"], stderr);
    assertStringIncludes(
      stderr,
      `; a job sbatch queued meanwhile is not recorded in ${dir}/slurm.json (squeue shows it), ` +
        `and ${dir} may hold this run's plan.json and job.sbatch\n`,
    );
    assertMatch(
      stderr,
      /^pwalk slurm: SIGTERM again: quit without waiting for the planning or sbatch /m,
    );
  } finally {
    clearTimeout(guard);
    Deno.writeTextFileSync(`${tmp.path}/go`, ""); // the fake sbatch ends
  }
});

Deno.test("pwalk slurm --resume: a signal while squeue answers: one line, 128+n, nothing resubmitted (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  Deno.mkdirSync(`${root}/a`, { recursive: true });
  Deno.mkdirSync(`${root}/b`);
  const bin = `${tmp.path}/bin`;
  const env = slowSbatch(bin, tmp.path);
  Deno.writeTextFileSync(`${tmp.path}/go`, ""); // the first submission at once
  const dir = `${tmp.path}/scan`;
  const first = await spawnCli(["slurm", root, "--shards", "2", "--out", dir], { env }).output();
  assertEquals(first.code, 0, new TextDecoder().decode(first.stderr));
  const before = Deno.readTextFileSync(`${dir}/slurm.json`);
  // squeue now slow to answer (it says it started); sbatch would record its call
  Deno.writeTextFileSync(
    `${bin}/squeue`,
    `#!/bin/sh\ntouch ${tmp.path}/asked\nwhile [ ! -e ${tmp.path}/answer ]; do sleep 0.05; done\nexit 0\n`,
  );
  const p = spawnCli(["slurm", "--resume", dir], { env });
  await waitFor(() => exists(`${tmp.path}/asked`), { what: "squeue asked" });
  p.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 200)); // (its listener runs meanwhile)
  Deno.writeTextFileSync(`${tmp.path}/answer`, "");
  const r = await p.output();
  const stderr = new TextDecoder().decode(r.stderr);
  assertEquals([r.code, new TextDecoder().decode(r.stdout)], [143, ""], stderr);
  assertEquals(stderr, "pwalk slurm: interrupted by SIGTERM; nothing was resubmitted\n");
  assertEquals(Deno.readTextFileSync(`${tmp.path}/calls`).trim().split("\n").length, 1);
  assertEquals(Deno.readTextFileSync(`${dir}/slurm.json`), before);
});

/** A scan folder `tmp`/scan of a one-shard plan of a one-folder tree. */
async function oneShardScan(tmp: string): Promise<{ dir: string }> {
  const root = `${tmp}/tree`, dir = `${tmp}/scan`;
  Deno.mkdirSync(`${root}/a`, { recursive: true });
  Deno.mkdirSync(dir);
  await makePlan(root, 1, `${dir}/plan.json`);
  return { dir };
}

Deno.test("pwalk status: a signal while squeue hangs: squeue ended, one line, 128+n, no half status (review)", async () => {
  await using tmp = await tempDir();
  const { dir } = await oneShardScan(tmp.path);
  Deno.writeTextFileSync(`${dir}/job.sbatch`, "#!/bin/sh\n"); // squeue is asked
  const bin = `${tmp.path}/bin`;
  Deno.mkdirSync(bin);
  // a squeue that never answers (a hung slurmctld), its pid said
  Deno.writeTextFileSync(
    `${bin}/squeue`,
    `#!/bin/sh\necho $$ > ${tmp.path}/asked\nwhile :; do sleep 0.05; done\n`,
  );
  Deno.chmodSync(`${bin}/squeue`, 0o755);
  const p = spawnCli(["status", dir], { env: { PATH: `${bin}:${Deno.env.get("PATH")}` } });
  await waitFor(async () => (await Deno.readTextFile(`${tmp.path}/asked`).catch(() => "")) !== "", {
    what: "squeue asked",
  });
  const squeue = Number(Deno.readTextFileSync(`${tmp.path}/asked`).trim());
  p.kill("SIGINT");
  const r = await p.output();
  const stderr = new TextDecoder().decode(r.stderr);
  assertEquals([r.code, new TextDecoder().decode(r.stdout)], [130, ""], stderr);
  assertEquals(stderr, "pwalk status: interrupted by SIGINT; no status was told\n");
  // squeue was ended, not left behind to wait on
  await waitFor(() => !existsSync(`/proc/${squeue}`), { what: `squeue (pid ${squeue}) ended` });
});

Deno.test("scanStatus(): a signal while --verify reads an output stops the reading (review)", async () => {
  await using tmp = await tempDir();
  const { dir } = await oneShardScan(tmp.path);
  const dec = new TextDecoder();
  const out = `${dir}/scan-0.csv`;
  const ran = await spawnCli(["report", "--plan", `${dir}/plan.json`, "--shard", "0", "-o", out])
    .output();
  assertEquals(ran.code, 0, dec.decode(ran.stderr));
  // an output of 2 GiB (sparse) that its record sizes right: seconds to hash
  const big = 2 * 2 ** 30;
  Deno.truncateSync(out, big);
  const rec = JSON.parse(Deno.readTextFileSync(`${dir}/scan-0.done.json`));
  rec.outputBytes = big;
  Deno.writeTextFileSync(`${dir}/scan-0.done.json`, JSON.stringify(rec));
  const abort = new AbortController();
  const reading = () => openNames(Deno.pid).includes(Deno.realPathSync(out));
  const status = scanStatus(dir, { verify: true, squeue: false, signal: abort.signal });
  status.catch(() => {}); // (awaited below)
  await waitFor(reading, { what: "the output being read" });
  abort.abort(new DOMException("stop", "AbortError"));
  const e = await assertRejects(() => status);
  assertEquals((e as Error).name, "AbortError");
});
