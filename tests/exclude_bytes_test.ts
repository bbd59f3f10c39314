/**
 * Excludes given to the API as bytes (a folder whose name is not UTF-8):
 * every spelling of the folder (absolute, `./x`, relative to the working
 * folder, a trailing slash, `a//b`, through a link to the root) excludes
 * it from report(), walk(), walkDirs() and repair({ apply: true }), as a
 * string exclude or the CLI's --exclude LIST does.
 *
 * References: the tree as readdir(3) and lstat(2) list it (tests/helpers/
 * libc.ts), with the excluded folder and everything below it taken out.
 */
import { assert, assertEquals } from "@std/assert";
import { nativeVersion, repair, report, walk, walkDirs } from "../mod.ts";
import { tempDir } from "./helpers/temp.ts";
import { bytes, concat } from "./helpers/bytes.ts";
import { closeLibc, lchown, listRaw, lstatRaw, mkdirRaw, writeFileRaw } from "./helpers/libc.ts";
import { key, parsePwalk } from "./helpers/csv.ts";

nativeVersion(); // load the library outside any test (it is a resource)

const enc = new TextEncoder();
const BAD = concat("bad", Uint8Array.of(0xff)); // "bad\xff"
const NESTED = concat("x", Uint8Array.of(0xc3, 0x28)); // "x\xc3(": holds BAD too

/**
 * The tree under `root`: folders BAD and NESTED/BAD (names not UTF-8),
 * each with a file and a subfolder holding a file; ok/ and a file beside.
 */
function makeTree(root: string): void {
  mkdirRaw(bytes(root));
  for (const d of [bytes("ok"), BAD, NESTED, concat(NESTED, "/", BAD)]) {
    const p = concat(root, "/", d);
    mkdirRaw(p, 0o700);
    writeFileRaw(concat(p, "/f"), enc.encode("x"));
    mkdirRaw(concat(p, "/sub"), 0o700);
    writeFileRaw(concat(p, "/sub/g"));
  }
  writeFileRaw(bytes(`${root}/top`));
}

/** Every entry below `root` (the root itself as ""), by readdir(3), as relative keys. */
function listTree(root: Uint8Array, rel = ""): string[] {
  const out = rel === "" ? [""] : [];
  for (const name of listRaw(rel === "" ? root : concat(root, "/", unkeyOf(rel)))) {
    const r = rel === "" ? key(name) : `${rel}/${key(name)}`;
    out.push(r);
    if ((lstatRaw(concat(root, "/", unkeyOf(r))).mode & 0o170000) === 0o040000) {
      out.push(...listTree(root, r));
    }
  }
  return out;
}

/** The reference's entries outside the folder `ex` (a relative key), sorted. */
function without(all: string[], ex: string): string[] {
  return all.filter((r) => r !== ex && !r.startsWith(`${ex}/`)).sort();
}

/**
 * A path as printed under the root spelled `given`: the relative key ("" for
 * the root). The root's own entry is spelled as given; the paths below it
 * start with the root as given without trailing slashes (report) or
 * normalised as @std/fs join does (walk: `./r/` gives `r/x`, `.` gives `x`).
 */
function relKey(path: Uint8Array, given: string): string {
  const k = key(path);
  if (k === key(enc.encode(given))) return "";
  const trimmed = given.length > 1 ? given.replace(/\/+$/, "") : given;
  const tidy = trimmed.replace(/^(\.\/)+/, "");
  for (const g of [trimmed, tidy].map((x) => key(enc.encode(x)))) {
    if (g === k) return "";
    if (g === ".") return k;
    if (k.startsWith(g === "/" ? "/" : `${g}/`)) return k.slice(g === "/" ? 1 : g.length + 1);
  }
  throw new Error(`${k} is not below ${given}`);
}

/** The spellings of the folder `ex` (bytes, relative to the root `r` = tmp/r) from the working folder tmp. */
function spellings(tmp: string, ex: Uint8Array): [string, Uint8Array][] {
  return [
    ["absolute", concat(`${tmp}/r/`, ex)],
    ["absolute, trailing slashes", concat(`${tmp}/r/`, ex, "//")],
    ["./", concat("./r/", ex)],
    ["relative", concat("r/", ex)],
    ["relative, trailing slash", concat("r/", ex, "/")],
    ["a//b", concat("r//", ex)],
    ["through a link to the root", concat("link/", ex)],
    ["../ back into the tree", concat("r/ok/../", ex)],
    // after the name that is not UTF-8 too: `.`, `..` and `//` by name
    ["/. after it", concat("r/", ex, "/.")],
    ["sub/.. after it", concat(`${tmp}/r/`, ex, "/sub/..")],
    ["./sub//../ after it", concat("r/", ex, "/./sub//../")],
  ];
}

/** The roots, spelled from the working folder tmp: relative, absolute, `./r/`. */
const roots = (tmp: string) => ["r", `${tmp}/r`, "./r/", "link"];

async function walkKeys(root: string, exclude: (string | Uint8Array)[]): Promise<string[]> {
  const out: string[] = [];
  const it = walk(root, { exclude });
  for await (const e of it) out.push(relKey(e.pathBytes ?? enc.encode(e.path), root));
  assertEquals(it.errors, []);
  return out.sort();
}

async function walkDirKeys(root: string, exclude: Uint8Array[]): Promise<string[]> {
  const out: string[] = [];
  for await (const d of walkDirs(root, { exclude })) {
    out.push(relKey(d.entry.pathBytes ?? enc.encode(d.path), root));
  }
  return out.sort();
}

async function reportKeys(root: string, exclude: Uint8Array[], out: string): Promise<string[]> {
  await report(root, { output: out, exclude });
  return parsePwalk(await Deno.readFile(out)).rows.map((r) => relKey(r.path, root)).sort();
}

/** Run `fn` with the working folder `dir`. */
async function inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  try {
    return await fn();
  } finally {
    Deno.chdir(cwd);
  }
}

Deno.test("byte excludes: every spelling leaves the folder out of walk(), walkDirs() and report()", async () => {
  await using tmp = await tempDir();
  makeTree(`${tmp.path}/r`);
  Deno.symlinkSync("r", `${tmp.path}/link`);
  const all = listTree(bytes(`${tmp.path}/r`));
  const dirsOf = (keys: string[]) =>
    keys.filter((k) =>
      (lstatRaw(concat(`${tmp.path}/r`, k ? "/" : "", unkeyOf(k))).mode & 0o170000) === 0o040000
    );
  await inDir(tmp.path, async () => {
    for (
      const [exRel, exBytes] of [[key(BAD), BAD], [
        `${key(NESTED)}/${key(BAD)}`,
        concat(NESTED, "/", BAD),
      ]] as const
    ) {
      const want = without(all, exRel);
      assert(want.length < all.length - 3, "the folder and what it holds are in the tree");
      for (const root of roots(tmp.path)) {
        // the relative key of root "link": the same tree, spelled through it
        assertEquals(await walkKeys(root, []), all.slice().sort(), `${root}: the whole tree`);
        for (const [how, b] of spellings(tmp.path, exBytes)) {
          const what = `root ${root}, exclude ${key(b)} (${how})`;
          assertEquals(await walkKeys(root, [b]), want, `walk: ${what}`);
          assertEquals(await walkDirKeys(root, [b]), dirsOf(want), `walkDirs: ${what}`);
          assertEquals(
            await reportKeys(root, [b], `${tmp.path}/out.csv`),
            want,
            `report: ${what}`,
          );
        }
      }
    }
    // a UTF-8 name given as bytes: as the same spelling given as a string
    for (const [how, b] of spellings(tmp.path, bytes("ok"))) {
      const text = new TextDecoder().decode(b);
      assertEquals(await walkKeys("r", [b]), await walkKeys("r", [text]), how);
      assertEquals(await walkKeys("r", [b]), without(all, "ok"), how);
    }
    // a `..` that takes away the name that is not UTF-8: the text path left
    for (const b of [concat("r/", BAD, "/../ok"), concat("r/", BAD, "/sub/../../ok/")]) {
      assertEquals(await walkKeys("r", [b]), without(all, "ok"), key(b));
    }
    // the root "." (walk() spells its entries without "./")
    await inDir(`${tmp.path}/r`, async () => {
      for (const b of [BAD, concat("./", BAD, "/"), concat(`${tmp.path}/r/`, BAD)]) {
        assertEquals(await walkKeys(".", [b]), without(all, key(BAD)), `root ., ${key(b)}`);
      }
    });
  });
  closeLibc();
});

/** The bytes of a relative key. */
function unkeyOf(k: string): Uint8Array {
  return Uint8Array.from(k, (c) => c.charCodeAt(0));
}

Deno.test("byte excludes: repair({ apply: true }) changes nothing in the folder, however spelled", async () => {
  await using tmp = await tempDir();
  // Owned by 1001:1001 (a private group) under a root of group 5000:
  // repair gives every entry group 5000, except in an excluded folder.
  const make = (name: string) => {
    const root = `${tmp.path}/${name}`;
    makeTree(root);
    Deno.chownSync(root, 0, 5000);
    for (const k of listTree(bytes(root)).filter((k) => k !== "")) {
      lchown(concat(root, "/", unkeyOf(k)), 1001, 1001);
    }
    return root;
  };
  const stat = (root: string) =>
    new Map(
      listTree(bytes(root)).map((k) => {
        const s = lstatRaw(k ? concat(root, "/", unkeyOf(k)) : bytes(root));
        return [k, `${s.uid}:${s.gid}:${s.mode.toString(8)}`];
      }),
    );
  // the reference of a repair that reaches everything
  const full = make("full");
  const before = stat(full);
  await repair(full, { apply: true, journal: false });
  const repaired = stat(full);
  assertEquals(repaired.get(key(BAD))?.split(":")[1], "5000", "repair reaches the folder");
  await inDir(tmp.path, async () => {
    let n = 0;
    for (const [how, b] of spellings(tmp.path, BAD)) {
      Deno.renameSync(make(`t${n++}`), `${tmp.path}/r`);
      Deno.symlinkSync("r", `${tmp.path}/link`);
      try {
        await repair("r", { apply: true, journal: false, exclude: [b] });
        const after = stat(`${tmp.path}/r`);
        for (const [k, s] of after) {
          const inside = k === key(BAD) || k.startsWith(`${key(BAD)}/`);
          assertEquals(s, (inside ? before : repaired).get(k), `${how}: ${k}`);
        }
        assertEquals(after.size, repaired.size);
      } finally {
        Deno.removeSync(`${tmp.path}/link`);
        Deno.renameSync(`${tmp.path}/r`, `${tmp.path}/done${n}`);
      }
    }
  });
  closeLibc();
});
