/**
 * Whether Deno's Node.js compatibility layer (node:fs, node:zlib, npm
 * packages such as DuckDB's) can start in this process. On Linux it reads
 * /proc/self/exe when first loaded, and where /proc is not mounted (some
 * containers and chroots) Deno panics there, which no catch stops: what
 * would load it asks here first. (No imports: the CLI's static module
 * graph stays small.)
 *
 * @module
 */

let works: boolean | undefined;

/** Whether the Node.js layer can load here (false: Linux without /proc). Looked at once. */
export function nodeLayerWorks(): boolean {
  if (works === undefined) {
    works = true;
    if (Deno.build.os === "linux") {
      try {
        Deno.readLinkSync("/proc/self/exe");
      } catch {
        works = false;
      }
    }
  }
  return works;
}
