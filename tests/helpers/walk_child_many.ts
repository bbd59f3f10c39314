/**
 * Child of tests/walk_lifecycle_test.ts: N walks of ROOT at once in one
 * process (walkDirs top-down, whose subfolders wait for the answer with
 * their parent's descriptor, and walk() with a skip test, which holds them
 * the same way), each consumer pausing every 20 items so that many folders
 * are held. Run under a low `ulimit -n`. Prints one
 * `{"items":N,"errors":E,"first":"..."}` per walk, as a JSON array.
 *
 * usage: deno run -A walk_child_many.ts ROOT N
 *
 * @module
 */
import { walk, walkDirs } from "../../mod.ts";

const [root, n] = Deno.args;
const results = await Promise.all(
  Array.from({ length: Number(n) }, async (_, i) => {
    const it = i % 2 ? walk(root, { skip: [/\/no-such-name$/] }) : walkDirs(root);
    let items = 0;
    for await (const _ of it) {
      if (++items % 20 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    return { items, errors: it.errors.length, first: it.errors[0]?.message ?? "" };
  }),
);
console.log(JSON.stringify(results));
