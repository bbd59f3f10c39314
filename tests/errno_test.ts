/**
 * lib/errno.ts against the system's own table: every errno number it names
 * has the name and the message Python's errno module and os.strerror give
 * (glibc's), and the ones a full descriptor table or a busy file give are
 * among them (undo said "error 24" for EMFILE).
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { errnoCode, errnoName, errnoText } from "../lib/errno.ts";
import { runOk } from "./helpers/run.ts";
import { PYTHON3, testNeeding } from "./helpers/system.ts";

testNeeding([PYTHON3], {
  name: "errno names and messages are the system's",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const py = await runOk("python3", [
      "-c",
      "import errno, json, os\n" +
      "print(json.dumps({n: [errno.errorcode[n], os.strerror(n)] for n in range(1, 134) " +
      "if n in errno.errorcode}))",
    ]);
    const sys: Record<string, [string, string]> = JSON.parse(py.text);
    // Python names a number by its last alias; the table by the usual one
    const alias: Record<string, string> = { EWOULDBLOCK: "EAGAIN", EDEADLOCK: "EDEADLK" };
    let named = 0;
    for (const [n, [name, text]] of Object.entries(sys)) {
      const [ours, ourText] = errnoName(Number(n));
      if (ours === `E${n}`) continue; // not in the table: "error N"
      named++;
      assertEquals(ours, alias[name] ?? name, `errno ${n}`);
      assertEquals(ourText, text, `errno ${n} (${ours})`);
      assertEquals(errnoText(ours), text);
    }
    assert(named >= 30, `${named} named`);
    for (const name of ["EMFILE", "ENFILE", "EBADF", "EBUSY", "ETXTBSY", "EXDEV", "ENOTEMPTY"]) {
      assert(Object.values(sys).some(([n]) => n === name), name);
      const n = Number(Object.entries(sys).find(([, [x]]) => x === name)![0]);
      assertEquals(errnoCode(n), name);
    }
    assertEquals(errnoName(24), ["EMFILE", "Too many open files"]);
  },
});

testNeeding([PYTHON3], {
  name:
    "the library's errno names (native/errlog.c, the --errors file) are lib/errno.ts's (walk()'s code)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // one name for one error in every output: the --errors CSV (native)
    // said ENOTCONN where walk()'s onError said "E107" on a dead FUSE mount
    const c = await Deno.readTextFile(new URL("../native/errlog.c", import.meta.url));
    const body = c.slice(c.indexOf("const char *pw_errno_name"));
    const native = [...body.slice(0, body.indexOf("\n}\n")).matchAll(/N\((E[A-Z0-9]+)\)/g)]
      .map((m) => m[1]);
    const py = await runOk("python3", [
      "-c",
      "import errno, json, sys\n" +
      "print(json.dumps({n: getattr(errno, n) for n in json.loads(sys.argv[1])}))",
      JSON.stringify(native),
    ]);
    const numbers: Record<string, number> = JSON.parse(py.text);
    for (const name of native) assertEquals(errnoCode(numbers[name]), name, name);
    // and the other way: every number lib/errno.ts names, the library names
    const named = new Set(native);
    for (let n = 1; n < 134; n++) {
      const ours = errnoCode(n);
      if (ours !== `E${n}`) assert(named.has(ours), `${ours} (${n}) not in native/errlog.c`);
    }
    for (const n of ["ENOTCONN", "ECONNABORTED", "EHOSTDOWN", "EREMOTEIO"]) assert(named.has(n), n);
  },
});
