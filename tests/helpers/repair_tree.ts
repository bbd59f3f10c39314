/**
 * Trees for the repair and chown tests: entries with chosen owners, groups
 * and modes (any uid/gid numbers: the tests run as root), a stat snapshot
 * from Deno.lstat, and the spec's rules (docs/repair.md) computed
 * independently of the native code from such a snapshot.
 *
 * @module
 */
import { lchown, mkfifo } from "./libc.ts";
import { python, rng } from "./tree.ts";

/** POSIX ACL entry tags (linux/posix_acl.h), and the id of the entries that name no one. */
export const ACL = {
  USER_OBJ: 1,
  USER: 2,
  GROUP_OBJ: 4,
  GROUP: 8,
  MASK: 0x10,
  OTHER: 0x20,
  ANY: 0xffffffff,
} as const;

/** One ACL entry: tag ({@link ACL}), permission bits (0-7), id. */
export type AclEntry = [tag: number, perm: number, id: number];

/**
 * Give entries below `root` these access ACLs (`system.posix_acl_access`,
 * version 2, the entries in the kernel's order: user::, user:..., group::,
 * group:..., mask::, other::), through Python's os.setxattr (Deno has no
 * xattr call): `{ "f": [[ACL.USER_OBJ, 6, ACL.ANY], ...] }`.
 */
export async function setAccessAcls(
  root: string,
  acls: Record<string, AclEntry[]>,
): Promise<void> {
  await python(
    `import json, os, struct, sys
for rel, entries in json.loads(sys.argv[2]).items():
    os.setxattr(os.path.join(sys.argv[1], rel), 'system.posix_acl_access',
                struct.pack('<I', 2) + b''.join(struct.pack('<HHI', *e) for e in entries))`,
    root,
    JSON.stringify(acls),
  );
}

/** One entry to create. Paths are relative to the tree's root (`.` is the root). */
export interface EntrySpec {
  rel: string;
  type: "dir" | "file" | "symlink" | "fifo";
  uid: number;
  gid: number;
  /** Permission bits (ignored for links). */
  mode: number;
  /** Link target. */
  target?: string;
}

/** What the tests compare: lstat's owner, group, permission bits, type and identity. */
export interface Stat {
  uid: number;
  gid: number;
  /** mode & 0o7777 */
  mode: number;
  type: "dir" | "file" | "symlink" | "other";
  ino: number;
  dev: number;
}

/** rel path (`.` for the root) -> Stat. */
export type Snapshot = Map<string, Stat>;

/** The absolute path of rel below root. */
export function at(root: string, rel: string): string {
  return rel === "." ? root : `${root}/${rel}`;
}

/** Create the entries (parents before children), then set owners and modes. */
export function buildTree(root: string, entries: EntrySpec[]): void {
  const sorted = [...entries].sort((a, b) => depth(a.rel) - depth(b.rel));
  for (const e of sorted) {
    const p = at(root, e.rel);
    if (e.rel === ".") {
      Deno.mkdirSync(p, { recursive: true });
    } else if (e.type === "dir") {
      Deno.mkdirSync(p);
    } else if (e.type === "file") {
      Deno.writeFileSync(p, new TextEncoder().encode(e.rel));
    } else if (e.type === "symlink") {
      Deno.symlinkSync(e.target!, p);
    } else {
      mkfifo(p, 0o600);
    }
  }
  for (const e of sorted) setOwnerMode(root, e);
}

/** Owner and group first (chown clears setuid/setgid), then the mode. */
export function setOwnerMode(root: string, e: Omit<EntrySpec, "target">): void {
  const p = at(root, e.rel);
  lchown(p, e.uid, e.gid);
  if (e.type !== "symlink") Deno.chmodSync(p, e.mode);
}

function depth(rel: string): number {
  return rel === "." ? 0 : rel.split("/").length;
}

function typeOf(i: Deno.FileInfo): Stat["type"] {
  return i.isDirectory ? "dir" : i.isFile ? "file" : i.isSymlink ? "symlink" : "other";
}

/**
 * lstat of every entry below (and including) root, links never followed.
 * Names that are not UTF-8 are left out (Deno.readDir spells them with
 * U+FFFD and cannot lstat them); tests check those with libc.ts's lstatRaw.
 */
export function snapshot(root: string): Snapshot {
  const out: Snapshot = new Map();
  const visit = (rel: string) => {
    const i = Deno.lstatSync(at(root, rel));
    out.set(rel, {
      uid: i.uid!,
      gid: i.gid!,
      mode: i.mode! & 0o7777,
      type: typeOf(i),
      ino: i.ino!,
      dev: i.dev,
    });
    if (i.isDirectory) {
      for (const d of Deno.readDirSync(at(root, rel))) {
        if (!d.name.includes("\uFFFD")) visit(rel === "." ? d.name : `${rel}/${d.name}`);
      }
    }
  };
  visit(".");
  return out;
}

/**
 * What undo of a repair puts back: `before`, less setgid on each file (not
 * a folder) of an owner other than root that the repair took it off
 * (`afterRepair` without it): undo holds setgid back on a file its owner
 * could have rewritten since the run (README, "setgid goes back on a file
 * only when root owns it").
 */
export function undoneSnapshot(before: Snapshot, afterRepair: Snapshot): Snapshot {
  const out: Snapshot = new Map();
  for (const [rel, s] of before) {
    const a = afterRepair.get(rel);
    const held = s.type !== "dir" && s.type !== "symlink" && s.uid !== 0 &&
      (s.mode & 0o2000) !== 0 && a !== undefined && (a.mode & 0o2000) === 0;
    out.set(rel, held ? { ...s, mode: s.mode & ~0o2000 } : s);
  }
  return out;
}

/** The differences between two snapshots, as readable lines (empty when equal). */
export function diffSnapshots(
  a: Snapshot,
  b: Snapshot,
  what = ["uid", "gid", "mode", "type", "ino"],
): string[] {
  const out: string[] = [];
  const fmt = (s: Stat | undefined) =>
    s
      ? `${s.type} ${s.uid}:${s.gid} ${s.mode.toString(8).padStart(4, "0")} ino ${s.ino}`
      : "missing";
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k), y = b.get(k);
    if (!x || !y || what.some((f) => x[f as keyof Stat] !== y[f as keyof Stat])) {
      out.push(`${k}: ${fmt(x)} | ${fmt(y)}`);
    }
  }
  return out.sort();
}

/** What repair may skip: excluded folders, .snapshot (noSnap), other devices (-x). */
export interface SkipRules {
  /** Excluded folders, relative to the root. */
  exclude?: string[];
  noSnap?: boolean;
  /** The root's device: entries on others are skipped (-x). */
  oneDev?: number;
}

function parentOf(rel: string): string | null {
  if (rel === ".") return null;
  const i = rel.lastIndexOf("/");
  return i < 0 ? "." : rel.slice(0, i);
}

/** Whether the walker reaches rel (no excluded, .snapshot or foreign-device folder on the way). */
export function reached(snap: Snapshot, rel: string, skip: SkipRules): boolean {
  for (let p: string | null = rel; p !== null && p !== "."; p = parentOf(p)) {
    const s = snap.get(p)!;
    const name = p.slice(p.lastIndexOf("/") + 1);
    if (skip.oneDev !== undefined && s.dev !== skip.oneDev) return false;
    if (s.type === "dir" && skip.exclude?.includes(p)) return false;
    if (s.type === "dir" && skip.noSnap && name === ".snapshot") return false;
  }
  return true;
}

/** Options of the rules. */
export interface RepairRules extends SkipRules {
  changeGids?: number[];
  forceGroupWritable?: boolean;
}

/**
 * The tree after a repair, by the spec, computed from the snapshot before:
 * every reached entry below the root that is not a link gets setgid (folders),
 * the nearest non-private ancestor's group when its own is private (parents
 * in the snapshot, then the root's real ancestors by Deno.lstat, never `/`),
 * and g+r (files) or g+rx (folders), with force g+rw / g+rwx; an entry of a
 * private group with no such ancestor is left alone entirely. A file whose
 * group changes loses setuid/setgid (pwalk's documented addition to the spec,
 * as chgrp does). Also returns how many entries have no qualifying ancestor.
 */
export function expectRepair(
  root: string,
  before: Snapshot,
  rules: RepairRules = {},
): { after: Snapshot; noAncestor: number } {
  const listed = new Set(rules.changeGids ?? []);
  const isPrivate = (s: { uid: number; gid: number }) =>
    s.gid === s.uid || s.gid === 0 || listed.has(s.gid);
  // Above the root: its real ancestors, up to but not including /.
  const real = Deno.realPathSync(root);
  let above = 0;
  if (real !== "/") {
    let p = real;
    for (;;) {
      const i = p.lastIndexOf("/");
      if (i <= 0) break;
      p = p.slice(0, i);
      const st = Deno.lstatSync(p);
      if (st.isDirectory && !isPrivate({ uid: st.uid!, gid: st.gid! })) {
        above = st.gid!;
        break;
      }
    }
  }
  const nearest = (rel: string): number => {
    for (let p = parentOf(rel); p !== null; p = parentOf(p)) {
      const s = before.get(p)!;
      if (!isPrivate(s)) return s.gid;
    }
    return above;
  };
  const after: Snapshot = new Map();
  let noAncestor = 0;
  for (const [rel, s] of before) {
    const n = { ...s };
    after.set(rel, n);
    if (rel === "." || s.type === "symlink" || !reached(before, rel, rules)) continue;
    if (isPrivate(s)) {
      const g = nearest(rel);
      if (g === 0) {
        noAncestor++; // left alone: no group, mode or setgid change
        continue;
      }
      n.gid = g;
    }
    const dir = s.type === "dir";
    const fgw = !!rules.forceGroupWritable;
    // rule 4: a file given a new group loses setuid/setgid; one that keeps
    // them gets no group write (the setid notice)
    if (!dir && n.gid !== s.gid) n.mode &= ~0o6000;
    // (bits that take effect: setuid with an execute bit, setgid with g+x)
    const keepsSetid = !dir &&
      (((n.mode & 0o4000) !== 0 && (n.mode & 0o111) !== 0) ||
        ((n.mode & 0o2000) !== 0 && (n.mode & 0o010) !== 0));
    n.mode |= dir ? (fgw ? 0o070 : 0o050) : (fgw && !keepsSetid ? 0o060 : 0o040);
    if (dir) n.mode |= 0o2000;
  }
  return { after, noAncestor };
}

/** A change as the tests compare them: `rel old-uid:gid:mode -> new-uid:gid:mode`. */
export function changeKey(
  rel: string,
  a: Stat | { uid: number; gid: number; mode: number },
  b: { uid: number; gid: number; mode: number },
): string {
  const f = (s: { uid: number; gid: number; mode: number }) =>
    `${s.uid}:${s.gid}:${s.mode.toString(8).padStart(4, "0")}`;
  return `${rel} ${f(a)} -> ${f(b)}`;
}

/** The changes between two snapshots, one changeKey per changed entry, sorted. */
export function changesBetween(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  for (const [rel, x] of a) {
    const y = b.get(rel);
    if (y && (x.uid !== y.uid || x.gid !== y.gid || x.mode !== y.mode)) {
      out.push(changeKey(rel, x, y));
    }
  }
  return out.sort();
}

/** The group ids a generated tree uses. */
export const G = {
  /** The root's shared project group. */
  PROJECT: 5000,
  /** Groups listed in --change-gids. */
  LISTED: 7777,
  /** Another shared group, not listed. */
  OTHER: 8000,
} as const;

/**
 * A generated tree: `folders` folders up to 4 deep under a root owned
 * 100:PROJECT (mode 2770), each with a few files; folders and files get
 * private groups (gid == uid), group 0, the LISTED group, shared groups
 * (their own, or OTHER), and modes with and without group bits, setuid,
 * setgid and sticky; private-group links and FIFOs. Deterministic per seed.
 */
export function generateTree(seed: number, folders: number, filesPerFolder = 6): EntrySpec[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const out: EntrySpec[] = [{ rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 }];
  const dirs: string[] = ["."];
  const dirModes = [0o700, 0o750, 0o755, 0o770, 0o2770, 0o2750, 0o711, 0o1777] as const;
  const fileModes = [
    0o600,
    0o640,
    0o644,
    0o400,
    0o660,
    0o4755,
    0o2755,
    0o6750,
    0o700,
    0o604,
  ] as const;
  const group = (uid: number, i: number): number => {
    switch (pick(["private", "zero", "listed", "own", "other", "project"] as const)) {
      case "private":
        return uid;
      case "zero":
        return 0;
      case "listed":
        return G.LISTED;
      case "own":
        return 6000 + i;
      case "other":
        return G.OTHER;
      default:
        return G.PROJECT;
    }
  };
  for (let i = 0; i < folders; i++) {
    const parent = pick(dirs.filter((d) => depth(d) < 4));
    const rel = parent === "." ? `d${i}` : `${parent}/d${i}`;
    const uid = 1001 + Math.floor(r() * 5);
    out.push({ rel, type: "dir", uid, gid: group(uid, i), mode: pick(dirModes) });
    dirs.push(rel);
  }
  let n = 0;
  for (const d of dirs) {
    for (let k = 0; k < filesPerFolder; k++) {
      const rel = d === "." ? `f${n}` : `${d}/f${n}`;
      const uid = 1001 + Math.floor(r() * 5);
      out.push({ rel, type: "file", uid, gid: group(uid, n), mode: pick(fileModes) });
      n++;
    }
    const u = 1001 + Math.floor(r() * 5);
    out.push({
      rel: d === "." ? `l${n}` : `${d}/l${n}`,
      type: "symlink",
      uid: u,
      gid: u,
      mode: 0o777,
      target: `f${n - 1}`,
    });
    if (r() < 0.3) {
      out.push({
        rel: d === "." ? `p${n}` : `${d}/p${n}`,
        type: "fifo",
        uid: u,
        gid: 0,
        mode: 0o600,
      });
    }
  }
  return out;
}
