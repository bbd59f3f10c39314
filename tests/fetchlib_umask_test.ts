/**
 * The library cache under `umask 002` (Ubuntu's umask for a user with a
 * private group): the folders pwalk makes are 0755 whatever the umask, so
 * it does not refuse the cache it just made; a user's own folder that only
 * their private group can also write (~/.cache made by another program) is
 * trusted, never for root (lib/trust.ts); and when the library has to go to
 * the temporary folder and dlopen cannot map it there (TMPDIR mounted
 * noexec), the error says why the cache was not used and what to do.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { cachePath, MANIFEST, sha256Hex } from "../lib/fetchlib.ts";
import { privateGroupOf, untrustedAncestor } from "../lib/trust.ts";
import { REPO, run, runOk } from "./helpers/run.ts";
import { standaloneLayout } from "./helpers/ship.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";

const LIB = `${REPO}/zig-out/lib/libpwalk.so`;

/** `installEmbedded(LIB, "libpwalk.so", ...args)` in `sh -c 'umask 002; deno eval ...'`. */
function embedUmask002(args: string[], o: Parameters<typeof run>[2] = {}) {
  const call = [`new URL("file://${LIB}")`, '"libpwalk.so"', ...args].join(", ");
  const code = `import { installEmbedded } from "file://${REPO}/lib/fetchlib.ts";
     console.log(installEmbedded(${call}));`;
  return run("sh", ["-c", 'umask 002; exec "$0" eval "$1"', Deno.execPath(), code], o);
}

const mode = async (p: string) => (await Deno.lstat(p)).mode! & 0o7777;

Deno.test("fetchlib: under umask 002 the cache folders pwalk makes are 0755 and the cache is used", async () => {
  await using tmp = await tempDir("pwalk-umask-");
  const sum = sha256Hex(await Deno.readFile(LIB));
  const own = `${tmp.path}/tmp`;
  await Deno.mkdir(own, { mode: 0o700 });
  const cache = `${tmp.path}/c/pwalk/v`;
  const r = await embedUmask002([JSON.stringify(cache), JSON.stringify(own)], { cwd: tmp.path });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.text.trim(), cachePath("libpwalk.so", sum, cache));
  for (const d of [`${tmp.path}/c`, `${tmp.path}/c/pwalk`, cache]) {
    assertEquals((await mode(d)).toString(8), "755", d);
  }
  assertEquals([...Deno.readDirSync(own)], [], "nothing in the temporary folder");
  // the umask applied: a folder sh makes there is group-writable
  await runOk("sh", ["-c", `umask 002; mkdir "${tmp.path}/probe"`]);
  assertEquals((await mode(`${tmp.path}/probe`)).toString(8), "775");
});

Deno.test("trust: a private group is the user's primary group alone, with no other member, from local files", () => {
  const passwd = "root:x:0:0::/root:/bin/sh\nann:x:1000:1000::/home/ann:/bin/sh\n" +
    "bob:x:1001:1001::/home/bob:/bin/sh\n";
  const group = "root:x:0:\nann:x:1000:\nbob:x:1001:bob\nstaff:x:50:ann,bob\n";
  const nss = "passwd: files systemd\ngroup: files [SUCCESS=merge] systemd\n";
  assertEquals(privateGroupOf(1000, passwd, group, nss), 1000);
  assertEquals(privateGroupOf(1001, passwd, group, nss), 1001, "its own name as a member");
  assertEquals(privateGroupOf(1000, passwd, group, ""), 1000, "no nsswitch.conf: files");
  assertEquals(privateGroupOf(0, passwd, group, nss), undefined, "never root's");
  assertEquals(privateGroupOf(1002, passwd, group, nss), undefined, "not in /etc/passwd");
  // someone else in it, as a member or by primary group
  assertEquals(privateGroupOf(1000, passwd, "ann:x:1000:bob\n", nss), undefined);
  assertEquals(
    privateGroupOf(1000, passwd + "eve:x:1003:1000::/:/bin/sh\n", group, nss),
    undefined,
  );
  // a primary group shared by the user's group entries twice, one with a member
  assertEquals(privateGroupOf(1000, passwd, group + "ann2:x:1000:eve\n", nss), undefined);
  // the group not listed, or groups that may come from elsewhere
  assertEquals(privateGroupOf(1000, passwd, "root:x:0:\n", nss), undefined);
  assertEquals(privateGroupOf(1000, passwd, group, "group: files sss\n"), undefined);
  assertEquals(privateGroupOf(1000, passwd, group, "passwd: compat\n"), undefined);
  assertEquals(privateGroupOf(1000, passwd, group + "+:::\n", nss), undefined);
});

Deno.test({
  name: "trust: root does not trust a folder of root's that group root can write",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir("pwalk-umask-");
    const d = `${tmp.path}/gw`;
    await Deno.mkdir(d);
    await Deno.chmod(d, 0o775);
    assertEquals(
      untrustedAncestor(`${d}/pwalk`, 0),
      `${d} is writable by group or others (mode 0775)`,
    );
  },
});

/** A user (not root) of /etc/passwd who has a private group, as [uid, gid]; undefined if none. */
function userWithPrivateGroup(): [number, number] | undefined {
  const passwd = Deno.readTextFileSync("/etc/passwd");
  const group = Deno.readTextFileSync("/etc/group");
  let nss = "";
  try {
    nss = Deno.readTextFileSync("/etc/nsswitch.conf");
  } catch { /* none */ }
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    const uid = Number(f[2]);
    if (!(uid > 0) || uid >= 65534) continue;
    const gid = privateGroupOf(uid, passwd, group, nss);
    if (gid !== undefined) return [uid, gid];
  }
  return undefined;
}

const USER = Deno.uid() === 0 ? userWithPrivateGroup() : undefined;

testNeeding([SETPRIV], {
  name:
    "fetchlib: a user under umask 002 whose ~/.cache only their private group can also write keeps the library there",
  ignore: USER === undefined,
  async fn() {
    const [uid, gid] = USER!;
    await using tmp = await tempDir("pwalk-umask-");
    await Deno.chmod(tmp.path, 0o755);
    const home = `${tmp.path}/home`;
    // ~/.cache as another program makes it under umask 002
    await Deno.mkdir(`${home}/.cache`, { recursive: true });
    await Deno.chmod(`${home}/.cache`, 0o775);
    for (const d of [home, `${home}/.cache`]) await Deno.chown(d, uid, gid);
    const own = `${tmp.path}/tmp`;
    await Deno.mkdir(own, { mode: 0o700 });
    await Deno.chown(own, uid, gid);
    const r = await embedUmask002([], {
      prefix: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"],
      cwd: home,
      clearEnv: true,
      env: { HOME: home, TMPDIR: own, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    });
    assertEquals(r.code, 0, r.stderr);
    const sum = sha256Hex(await Deno.readFile(LIB));
    const cache = `${home}/.cache/pwalk/${MANIFEST.version}`;
    assertEquals(r.text.trim(), cachePath("libpwalk.so", sum, cache));
    assertEquals((await mode(`${home}/.cache/pwalk`)).toString(8), "755");
    assertEquals((await mode(cache)).toString(8), "755");
    assertEquals((await Deno.lstat(cache)).uid, uid);
    assertEquals([...Deno.readDirSync(own)], [], "nothing in the temporary folder");
  },
});

Deno.test({
  name:
    "ffi: a library put in a noexec TMPDIR because the cache was refused says why and what to do",
  ignore: Deno.uid() !== 0 || !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-umask-");
    // deno compile's case (as in fetchlib_test.ts): lib/ with the library in dist/
    const sa = await standaloneLayout(
      tmp.path,
      `try { nativeVersion(); } catch (e) { console.error(e.message); Deno.exit(1); }`,
    );
    const xdg = `${tmp.path}/xdg`; // group-writable: refused
    await Deno.mkdir(xdg);
    await Deno.chmod(xdg, 0o775);
    const nx = `${tmp.path}/nx`;
    await Deno.mkdir(nx);
    assertEquals(await mountTmpfs(nx, "size=16m,noexec,mode=0700"), "");
    const r = await run(Deno.execPath(), sa.args, { env: { XDG_CACHE_HOME: xdg, TMPDIR: nx } });
    assertEquals(r.code, 1, r.stderr);
    const line = r.stderr.trim();
    assertEquals(line.split("\n").length, 1, line);
    const priv = `${nx}/pwalk-lib-`;
    assert(line.startsWith(`pwalk: ${priv}`), line);
    assertStringIncludes(
      line,
      `(it is in a temporary folder, not in the cache: cache folder ${xdg}/pwalk/${MANIFEST.version}: ` +
        `${xdg} is writable by group or others (mode 0775); `,
    );
    assertStringIncludes(line, "TMPDIR to one that may hold programs");
    assert(
      ![...Deno.readDirSync(xdg)].some((e) => e.name === "pwalk"),
      "nothing made in the refused cache (Deno keeps its own there)",
    );
  },
});
