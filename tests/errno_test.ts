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
