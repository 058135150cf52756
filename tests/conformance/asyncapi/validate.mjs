// Parse AsyncAPI documents with the official parser and print its diagnostics
// as JSON, for tests/conformance/test_asyncapi.py:
//
//   node validate.mjs MODULES_DIR FILE...
//
// MODULES_DIR is where scripts/ensure-asyncapi installed @asyncapi/parser
// (.cache/asyncapi). Prints {"parser": version, "results": {FILE: {"parsed":
// bool, "diagnostics": [{severity, code, message, path}]}}} and exits 0 when
// every file was parsed or rejected; 2 on bad usage or a crash.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const SEVERITY = ["error", "warning", "info", "hint"]; // @stoplight/types DiagnosticSeverity

const [modules, ...files] = process.argv.slice(2);
if (!modules || files.length === 0) {
  process.stderr.write("usage: node validate.mjs MODULES_DIR FILE...\n");
  process.exit(2);
}
const require = createRequire(join(resolve(modules), "package.json"));
const { Parser } = require("@asyncapi/parser");
const version = require("@asyncapi/parser/package.json").version;

const parser = new Parser();
const results = {};
for (const file of files) {
  const source = resolve(file);
  const { document, diagnostics } = await parser.parse(readFileSync(source, "utf8"), { source });
  results[file] = {
    parsed: document !== undefined,
    diagnostics: diagnostics.map((d) => ({
      severity: SEVERITY[d.severity] ?? String(d.severity),
      code: String(d.code),
      message: d.message,
      path: d.path.join("/"),
    })),
  };
}
process.stdout.write(JSON.stringify({ parser: version, results }, null, 2) + "\n");
