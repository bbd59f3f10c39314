/**
 * The JSR package `@pwalk/cli`: `deno publish --dry-run` passes (slow types
 * included), its file list holds the module and the docs/ README links to,
 * and nothing built, tested or benchmarked, and its main entry (mod.ts) runs the CLI when it is the main
 * module but not when imported.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import denoJson from "../deno.json" with { type: "json" };
import { REPO, runOk } from "./helpers/run.ts";

Deno.test("publish: the dry run passes and ships only the module's files", async () => {
  const r = await runOk(Deno.execPath(), ["publish", "--dry-run", "--allow-dirty"], {
    cwd: REPO,
    env: { NO_COLOR: "1" },
  });
  const out = r.text + r.stderr;
  assertStringIncludes(out, "Dry run complete");
  const files = [...out.matchAll(/file:\/\/\S+/g)].map((m) => m[0].slice(`file://${REPO}/`.length));
  assert(files.includes("mod.ts") && files.includes("lib/manifest.json"), files.join(" "));
  // README links docs/ (the CSV format, the repair rules): shipped with it
  const linked = [...(await Deno.readTextFile(`${REPO}/README.md`)).matchAll(/\]\((docs\/[^)#]+)/g)]
    .map((m) => m[1]);
  assert(linked.length > 0);
  for (const f of [...linked, "docs/csv-format.md", "docs/repair.md"]) {
    assert(files.includes(f), `${f} is not published: ${files.join(" ")}`);
  }
  const bad = files.filter((f) =>
    /^(tests|bench|dist|tools|native|zig-out|\.tools|\.zig-cache)\//.test(f) ||
    /\.(so|dylib|zst|csv)$/.test(f)
  );
  assertEquals(bad, []);
});

Deno.test("publish: mod.ts runs the CLI as the main module, and only then", async () => {
  const v = await runOk(Deno.execPath(), ["run", "-A", `${REPO}/mod.ts`, "--version"]);
  assertStringIncludes(v.text, `pwalk ${denoJson.version} (native `);
  const imported = await runOk(Deno.execPath(), [
    "eval",
    `const m = await import("file://${REPO}/mod.ts"); console.log(typeof m.report);`,
  ]);
  assertEquals(imported.text.trim(), "function");
});

Deno.test("publish: the JSDoc JSR renders holds no tag deno doc does not know (a line that starts with @std/fs cuts the text there)", async () => {
  const r = await runOk(Deno.execPath(), ["doc", "--json", `${REPO}/mod.ts`], {
    env: { NO_COLOR: "1" },
  });
  // every JSDoc block, and the symbol or member it belongs to
  const unknown: string[] = [];
  const visit = (v: unknown, where: string): void => {
    if (Array.isArray(v)) return v.forEach((x) => visit(x, where));
    if (!v || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    const here = typeof o.name === "string" ? `${where}/${o.name}` : where;
    for (const t of (Array.isArray(o.tags) ? o.tags : []) as { kind: string; value?: string }[]) {
      if (t.kind === "unsupported") unknown.push(`${here}: ${t.value?.split("\n")[0]}`);
    }
    for (const x of Object.values(o)) visit(x, here);
  };
  visit(JSON.parse(r.text), "mod.ts");
  assertEquals(unknown, []);
});
