#!/usr/bin/env -S deno run -A
/**
 * The `pwalk` command.
 *
 * ```sh
 * deno run -A cli.ts --header -o scan.csv.zst /data
 * ```
 *
 * @module
 */
import { main } from "./lib/cli/main.ts";

export { main };

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
