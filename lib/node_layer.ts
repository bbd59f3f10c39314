/**
 * Whether Deno's Node.js compatibility layer (node:fs, node:zlib, npm
 * packages such as DuckDB's) can start in this process. On Linux it reads
 * /proc/self/exe when first loaded, and where /proc is not mounted (some
 * containers and chroots) Deno panics there, which no catch stops: what
 * would load it asks here first. (No imports: the CLI's static module
 * graph stays small.)
 *
 * Without `--allow-all`, Deno refuses every path under /proc to the script
 * (NotCapable), though its Node.js layer reads /proc/self/exe all the same:
 * the refusal says nothing about /proc, so then the resident set size Deno
 * reads from /proc/self/statm (0 when it cannot) tells whether /proc is
 * there.
 *
 * @module
 */

let works: boolean | undefined;

/** Whether the Node.js layer can load here (false: Linux without /proc; needs no permission). Looked at once. */
export function nodeLayerWorks(): boolean {
  if (works === undefined) {
    works = true;
    if (Deno.build.os === "linux") {
      try {
        Deno.readLinkSync("/proc/self/exe");
      } catch (e) {
        works = e instanceof Deno.errors.NotCapable && Deno.memoryUsage().rss > 0;
      }
    }
  }
  return works;
}
