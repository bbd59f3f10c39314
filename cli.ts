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
import { main, runMain } from "./lib/cli/main.ts";
import { commandLineArgs } from "./lib/cli/common.ts";

export { main };

if (import.meta.main) await runMain(commandLineArgs());
