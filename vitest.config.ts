import { defineConfig } from "vitest/config";

// Workspace packages resolve to their TypeScript sources through the "@herald/source"
// export condition, so tests need no prior build of their dependencies.
export default defineConfig({
  resolve: { conditions: ["@herald/source"] },
  ssr: { resolve: { conditions: ["@herald/source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real servers and processes; two cores are shared by all files.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
