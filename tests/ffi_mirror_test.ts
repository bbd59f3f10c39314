/**
 * lib/ffi.ts mirrors the C interface by hand: the option keys, compression
 * kinds, counters, statuses, error operations and restore bits of
 * native/pwalk.h, the record kinds and flags of native/channel.h, and the
 * exported functions.  This test reads the headers and checks every copy,
 * both ways.
 */
import { assertEquals } from "@std/assert";
import {
  Compress,
  Counter,
  JournalFlag,
  OP_NAMES,
  Opt,
  REC_SIZE,
  RecFlag,
  RecKind,
  Restore,
  Status,
  SYMBOL_NAMES,
} from "../lib/ffi.ts";

const NATIVE = new URL("../native/", import.meta.url);
const pwalkH = await Deno.readTextFile(new URL("pwalk.h", NATIVE));
const channelH = await Deno.readTextFile(new URL("channel.h", NATIVE));

/** NAME -> value for every `PREFIX_NAME = value` in a header (`1 << n` too). */
function cEnum(header: string, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`\\b${prefix}([A-Z0-9_]+)\\s*=\\s*(\\d+)(?:\\s*<<\\s*(\\d+))?`, "g");
  for (const m of header.matchAll(re)) {
    out[m[1]] = m[3] === undefined ? Number(m[2]) : Number(m[2]) << Number(m[3]);
  }
  return out;
}

Deno.test("ffi.ts mirrors pwalk.h: option keys, counters, statuses, restore bits, journal flags", () => {
  assertEquals({ ...Opt }, cEnum(pwalkH, "PW_OPT_"));
  assertEquals({ ...Compress }, cEnum(pwalkH, "PW_COMPRESS_"));
  assertEquals({ ...Counter }, cEnum(pwalkH, "PW_C_"));
  assertEquals({ ...Restore }, cEnum(pwalkH, "PW_RESTORE_"));
  assertEquals({ ...JournalFlag }, cEnum(pwalkH, "PW_JOURNAL_"));
  const status = cEnum(pwalkH, "PW_");
  assertEquals({ ...Status }, {
    OK: status.OK,
    CANCELLED: status.CANCELLED,
    FAILED: status.FAILED,
  });
});

Deno.test("ffi.ts mirrors pwalk.h: error operations by number", () => {
  const ops = cEnum(pwalkH, "PW_OP_");
  const fromC: string[] = ["error"];
  for (const [name, v] of Object.entries(ops)) fromC[v] = name.toLowerCase();
  assertEquals([...OP_NAMES], fromC);
});

Deno.test("ffi.ts mirrors channel.h: record size, kinds and flags", () => {
  assertEquals(REC_SIZE, Number(/#define PW_REC_SIZE (\d+)/.exec(channelH)?.[1]));
  assertEquals({ ...RecKind }, cEnum(channelH, "PW_REC_"));
  assertEquals({ ...RecFlag }, cEnum(channelH, "PW_RECF_"));
});

Deno.test("ffi.ts binds every function pwalk.h exports, and nothing else", () => {
  const exported = [...pwalkH.matchAll(/^PW_API\s+[^(]*?\b(pw_\w+)\s*\(/gm)].map((m) => m[1]);
  assertEquals([...SYMBOL_NAMES].sort(), exported.sort());
});
