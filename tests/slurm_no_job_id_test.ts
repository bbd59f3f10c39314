/**
 * sbatch that ends well but prints no job id submitted nothing: an
 * `--sbatch=--test-only` (sbatch says when the job would start, on
 * stderr, and exits 0), `--sbatch=--help` or `--sbatch=--version`. pwalk
 * slurm took what sbatch printed for the id (nothing, or its help's first
 * words), recorded it in slurm.json as a submission and ended with status
 * 0, "submitted job  (array 0-1)", though no task would ever run. Now it
 * fails as a refused submission does: status 1, one line, the plan and
 * the script removed. A fake sbatch on PATH stands for Slurm's.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("pwalk slurm: sbatch that ends with status 0 and no job id submitted nothing (exit 1)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/a`, { recursive: true });
  const bin = `${tmp.path}/bin`;
  await Deno.mkdir(bin);
  const env = { PATH: `${bin}:${Deno.env.get("PATH")}` };
  const sbatch = (body: string) => {
    Deno.writeTextFileSync(`${bin}/sbatch`, `#!/bin/sh\n${body}\n`);
    Deno.chmodSync(`${bin}/sbatch`, 0o755);
  };
  for (
    const [body, says] of [
      // --test-only: stderr only
      [
        "echo 'sbatch: Job 4242 to start at 2026-12-08T10:00:00 using 1 processors' >&2",
        "it said: sbatch: Job 4242 to start at",
      ],
      // --help, --version: their text on stdout
      ["echo 'Usage: sbatch [OPTIONS(0)...] [ : [OPTIONS(N)...]] script(0) [args(0)...]'", "Usage"],
      ["echo 'slurm 22.05.8'", "slurm 22.05.8"],
    ]
  ) {
    sbatch(body);
    const out = `${tmp.path}/scan`;
    const r = await cli(["slurm", root, "--shards", "2", "--out", out], { env });
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.text, "");
    const lines = r.stderr.trimEnd().split("\n");
    assertStringIncludes(lines.at(-1)!, "pwalk: sbatch printed no job id");
    assertStringIncludes(lines.at(-1)!, says);
    assertStringIncludes(lines.at(-1)!, "nothing was submitted");
    // as for a refused submission: nothing of the run is left (the folders it made too)
    assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["bin", "tree"]);
  }
  // a job id (with --parsable's ";cluster"): submitted
  sbatch("echo '4242;cluster1'");
  const r = await cli(["slurm", root, "--shards", "2", "--out", `${tmp.path}/scan`], { env });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.text, "4242\n");
});
