/**
 * A stdout closed when pwalk starts (`>&-`): README says it cannot be told
 * from the null device given on purpose, and what happens then. Checked:
 * Deno's runtime gives fd 1 the null device opened for reading and
 * writing, the very state Python's subprocess.DEVNULL gives it (so a
 * refusal would refuse those runs too); the report then exits 0 and its
 * summary names stdout with the CSV's size (that of the same report
 * written with -o, by Deno.lstat); and README says so.
 */
import { assert, assertEquals } from "@std/assert";
import { CLI, REPO, run } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { PYTHON3, testNeeding } from "./helpers/system.ts";

const FD1 = `const f = Deno.readTextFileSync("/proc/self/fdinfo/1").match(/flags:\\s*(\\d+)/)[1];
const st = Deno.statSync("/proc/self/fd/1");
console.error(JSON.stringify({ acc: parseInt(f, 8) & 3, rdev: st.rdev }));`;

/** fd 1's access mode and device as a Deno child sees them, started by `argv` around `deno run`. */
async function fd1(dir: string, wrap: (deno: string[]) => string[]): Promise<unknown> {
  await Deno.writeTextFile(`${dir}/fd1.ts`, FD1);
  const argv = wrap([Deno.execPath(), "run", "-A", `${dir}/fd1.ts`]);
  const r = await run(argv[0], argv.slice(1));
  assertEquals(r.code, 0, r.stderr);
  return JSON.parse(r.stderr);
}

testNeeding([PYTHON3], {
  name:
    "stdout closed (>&-): told from DEVNULL by nothing; the report says stdout, exit 0, as README says",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using t = await tempDir();
    const closed = await fd1(t.path, (d) => ["sh", "-c", 'exec "$@" >&-', "sh", ...d]);
    const py = "import subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)";
    const devnull = await fd1(t.path, (d) => ["python3", "-c", py, ...d]);
    assertEquals(closed, devnull); // the same: nothing tells them apart
    assertEquals(closed, { acc: 2, rdev: (1 << 8) | 3 }); // /dev/null, O_RDWR

    await Deno.mkdir(`${t.path}/tree/a`, { recursive: true });
    const ref = await run(Deno.execPath(), ["run", "-A", CLI, "-o", `${t.path}/ref.csv`, "tree"], {
      cwd: t.path,
    });
    assertEquals(ref.code, 0, ref.stderr);
    const size = (await Deno.lstat(`${t.path}/ref.csv`)).size;
    const r = await run("sh", [
      "-c",
      'exec "$@" >&-',
      "sh",
      Deno.execPath(),
      "run",
      "-A",
      CLI,
      "tree",
    ], {
      cwd: t.path,
    });
    assertEquals(r.code, 0, r.stderr);
    const last = r.stderr.trimEnd().split("\n").at(-1)!;
    assert(last.endsWith(` -> stdout (${size} B)`), last);

    const readme = (await Deno.readTextFile(`${REPO}/README.md`)).replace(/\s+/g, " ");
    for (
      const said of [
        "A stdout closed when pwalk starts (`pwalk /data >&-`) cannot be told",
        "the summary line says `-> stdout (N B)` and the status is 0",
      ]
    ) assert(readme.includes(said), `README does not say: ${said}`);
  },
});
