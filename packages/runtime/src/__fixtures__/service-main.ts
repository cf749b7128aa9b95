// A minimal service main for the child-process tests in service.process.test.ts.
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { baseEnvSchema, runService } from "../index.js";

const fixtureSchema = baseEnvSchema.extend({
  // clean: every step finishes; hang: one step never settles; start-fails: start() throws.
  FIXTURE_MODE: z.enum(["clean", "hang", "start-fails"]).default("clean"),
});

await runService({
  name: "fixture",
  schema: fixtureSchema,
  start: async ({ config }) => {
    await sleep(10); // stands in for connecting to NATS and Postgres
    if (config.FIXTURE_MODE === "start-fails") throw new Error("fixture refuses to start");
    return {
      checks: { fixture: () => true },
      shutdown: [
        { name: "stop intake", run: () => sleep(20) },
        {
          name: "finish in-flight",
          run: () =>
            config.FIXTURE_MODE === "hang" ? new Promise<void>(() => {}) : Promise.reject(new Error("boom")),
        },
        { name: "drain nats", run: () => sleep(5) },
      ],
    };
  },
});
