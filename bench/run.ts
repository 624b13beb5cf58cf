/**
 * `npm run bench`: runs every bench/*.bench.ts in turn (each compares one of our servers with a
 * reference peer in the same run and prints ratios). Not part of the tests: timings on shared
 * machines are for reading, not asserting. `npm run bench -- tftp` runs only matching files.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

const here = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const benches = readdirSync(here)
  .filter((name) => name.endsWith(".bench.ts") && (!filter || name.includes(filter)))
  .sort();

let failed = 0;
for (const bench of benches) {
  process.stdout.write(`\n=== ${bench} ===\n`);
  const result = await execa("npx", ["tsx", path.join(here, bench)], {
    stdio: "inherit",
    reject: false,
  });
  if (result.exitCode !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
