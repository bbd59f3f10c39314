/**
 * A small tree scanned twice: by this pwalk (`now`: ROOT "R", names "R/a")
 * and as the C pwalk spells a ROOT typed with a trailing slash (`old`: "R/",
 * "R//a"; docs/csv-format.md), the same rows otherwise.
 */
import { assert, assertEquals } from "@std/assert";
import { cli } from "./run.ts";

/** The tree's ROOT, this pwalk's scan of it, and the C pwalk's spelling of that scan. */
export interface SlashRootScans {
  root: string;
  now: string;
  old: string;
}

/** Make DIR/data (a file, a folder with a file, a folder below it) and its two scans in DIR. */
export async function slashRootScans(dir: string): Promise<SlashRootScans> {
  const root = `${dir}/data`;
  await Deno.mkdir(`${root}/sub/deeper`, { recursive: true });
  await Deno.writeTextFile(`${root}/a.txt`, "x".repeat(5000));
  await Deno.writeTextFile(`${root}/sub/b.bin`, "y".repeat(70000));
  await Deno.writeTextFile(`${root}/sub/deeper/c`, "z");
  const now = `${dir}/now.csv`;
  const r = await cli(["-o", now, root]);
  assertEquals(r.code, 0, r.stderr);
  // the C pwalk's spelling: the root as given, names joined to it with
  // another slash
  const lines = (await Deno.readTextFile(now)).split("\n").filter((l) => l);
  const old = `${dir}/old-c.csv`;
  await Deno.writeTextFile(
    old,
    lines.map((l) =>
      l.includes(`,"${root}",`)
        ? l.replace(`,"${root}",`, `,"${root}/",`)
        : l.replace(`,"${root}/`, `,"${root}//`)
    ).join("\n") + "\n",
  );
  const oldText = await Deno.readTextFile(old);
  assert(oldText.includes(`"${root}/"`) && oldText.includes(`"${root}//sub/b.bin"`), oldText);
  return { root, now, old };
}

/**
 * The scans of {@link slashRootScans} as of the ROOT `/`: its rows
 * relabelled (the root's row "/", the names below it "/a" in this pwalk's
 * spelling, `now`; "//a" in the C pwalk's, `old`: docs/csv-format.md).
 * `root` is the folder on disk whose entries the rows describe.
 */
export async function rootSlashScans(dir: string): Promise<SlashRootScans> {
  const { root, now } = await slashRootScans(dir);
  const lines = (await Deno.readTextFile(now)).split("\n").filter((l) => l);
  const write = async (path: string, below: string) => {
    await Deno.writeTextFile(
      path,
      lines.map((l) =>
        l.includes(`,"${root}",`)
          ? l.replace(`,"${root}",`, `,"/",`)
          : l.replace(`,"${root}/`, `,"${below}`)
      ).join("\n") + "\n",
    );
  };
  const slash = { root, now: `${dir}/now-slash.csv`, old: `${dir}/old-c-slash.csv` };
  await write(slash.now, "/");
  await write(slash.old, "//");
  const oldText = await Deno.readTextFile(slash.old);
  assert(oldText.includes(`,"/",`) && oldText.includes(`,"//sub/b.bin",`), oldText);
  return slash;
}
