/**
 * The CLI's and the answers' thousands separators are written by hand (Intl
 * costs the CLI 6.6 MiB): they must print what Intl.NumberFormat("en-US")
 * prints, the independent reference here.
 */
import { assertEquals } from "@std/assert";
import { count } from "../lib/answers/text.ts";
import { groupDigits } from "../lib/digits.ts";
import { num } from "../lib/cli/common.ts";
import { rng } from "./helpers/tree.ts";

Deno.test("count() and num() print what Intl.NumberFormat('en-US') prints", () => {
  const intl = new Intl.NumberFormat("en-US");
  const rnd = rng(11);
  const values = [0, 1, 12, 123, 999, 1000, 1001, 999999, 1000000, -1, -1000, -1234567, 0.5];
  values.push(2 ** 53, -(2 ** 53), 1.0005, 1234.5678, 0.0004, -0.0004, 1e20, 12.3);
  for (let i = 0; i < 2000; i++) {
    const scale = 10 ** Math.floor(rnd() * 16);
    const v = Math.floor(rnd() * scale) * (rnd() < 0.2 ? -1 : 1);
    values.push(v, v / 100, v / 7, Math.floor(rnd() * 1e7) / 10000);
  }
  for (const v of values) {
    assertEquals(count(v), intl.format(v), `${v}`);
    assertEquals(num(v), intl.format(v), `${v}`);
    assertEquals(groupDigits(v), intl.format(v), `${v}`);
  }
});
