#!/usr/bin/env node
// The bin is this checked-in file, not dist/main.js itself: pnpm links a workspace package's bin only if
// the file exists at install time, and a fresh clone installs before it builds.
import "../dist/main.js";
