// The one command that tests it all: lint and format, the generated-code check, the typecheck
// and build, then every unit and integration test. Stops at the first step that fails.
import path from "node:path";
import { ensureDependencies, root, run } from "./lib/bootstrap.mjs";

ensureDependencies();

const bin = (name) => path.join(root, "node_modules/.bin", name);
const steps = [
  ["lint", bin("eslint"), ["."]],
  ["format", bin("prettier"), ["--check", "."]],
  ["generated code", process.execPath, [path.join(root, "scripts/proto-gen.mjs"), "--check"]],
  ["typecheck and build", bin("tsc"), ["-b"]],
  ["tests", bin("vitest"), ["run", ...process.argv.slice(2)]],
];

for (const [name, cmd, args] of steps) {
  console.log(`\n== ${name}`);
  try {
    run(cmd, args);
  } catch (err) {
    console.error(`\n${name} failed: ${err.message}`);
    process.exit(err.exitCode ?? 1);
  }
}
