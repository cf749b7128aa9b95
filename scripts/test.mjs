// The one command that tests it all: lint and format, the generated-code check, the typecheck
// and build, then every unit and integration test. Stops at the first step that fails.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ensureDependencies, root, run } from "./lib/bootstrap.mjs";

await ensureDependencies();

const bin = (name) => path.join(root, "node_modules/.bin", name);
const reportDir = mkdtempSync(path.join(tmpdir(), "herald-test-"));
const report = path.join(reportDir, "vitest.json");
const steps = [
  ["lint", bin("eslint"), ["."]],
  ["format", bin("prettier"), ["--check", "."]],
  ["generated code", process.execPath, [path.join(root, "scripts/proto-gen.mjs"), "--check"]],
  ["typecheck and build", bin("tsc"), ["-b"]],
  [
    "tests",
    bin("vitest"),
    ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)],
  ],
];

let failed;
for (const [name, cmd, args] of steps) {
  console.log(`\n== ${name}`);
  try {
    await run(cmd, args);
  } catch (err) {
    console.error(`\n${name} failed: ${err.message}`);
    failed = err.exitCode ?? 1;
    break;
  }
}
summarize();
process.exit(failed ?? 0);

/** One plain closing line, the same in any CI: "N passed, N failed, N skipped". */
function summarize() {
  try {
    const r = JSON.parse(readFileSync(report, "utf8"));
    console.log(
      `\n${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`,
    );
  } catch {
    // the tests did not run: the failing step above says why
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
}
