#!/usr/bin/env node
// The herald command. Its bin is ../bin/herald.js, which imports this file once it is built.
import { run } from "./program.js";

process.exitCode = await run(process.argv.slice(2));
