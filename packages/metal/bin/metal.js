#!/usr/bin/env node
// The `metal` command's entry point. It is committed (dist/ is built), so `npm ci` links it into
// node_modules/.bin even before the first build: npm skips a bin whose file does not exist.
import process from "node:process";

import("../dist/cli.js").catch((error) => {
  const missingBuild =
    error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("/dist/cli.js'");
  if (!missingBuild) throw error;
  process.stderr.write(
    "metal: the CLI is not built yet (packages/metal/dist/cli.js is missing); run `npm run build` in the checkout\n",
  );
  process.exitCode = 2;
});
