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
import { exitProcess } from "./lib/cli/common.ts";

export { main };

if (import.meta.main) {
  exitProcess(await main(Deno.args));
}
