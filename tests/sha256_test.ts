// lib/sha256.ts (the library check, sync, without node:crypto) against
// Web Crypto's SHA-256 on random inputs around every padding boundary.
import { assertEquals } from "@std/assert";
import { sha256Hex } from "../lib/sha256.ts";

async function reference(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("sha256Hex equals Web Crypto at every padding boundary and on a large input", async () => {
  const sizes = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 4096, 1_000_003];
  for (const n of sizes) {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
    assertEquals(sha256Hex(b), await reference(b), `${n} bytes`);
  }
  // FIPS 180-4's own example
  assertEquals(
    sha256Hex(new TextEncoder().encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
