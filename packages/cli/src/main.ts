#!/usr/bin/env node
// The herald command. Its bin is ../bin/herald.js, which imports this file once it is built.
import { run } from "./program.js";

// `herald … | head`: the reader has gone, which is no failure of the command.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

process.exitCode = await run(process.argv.slice(2));
