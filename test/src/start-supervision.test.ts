// What `npm start`'s supervisor does when its children die: NATS and Postgres are restarted on
// the same port and data while the services stay up, a service that dies now and then is
// restarted for ever, and one that dies faster than the restart budget stops Herald in order.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@herald/testkit";
import { heraldClient, onlineEvent, publish } from "./grpc-client.js";
import {
  allReady,
  createApp,
  SERVICE_NAMES,
  startHerald,
  stopOrderProblems,
  type RunningHerald,
} from "./herald-start.js";

const homes: string[] = [];
// The chat core publishes only for apps that exist: the app is created through the admin API.
const ADMIN_TOKEN = "admin-token-for-supervision-tests-0123456789";

async function freshHome(): Promise<string> {
  const home = await mkdtemp(path.join(tmpdir(), "herald-home-"));
  homes.push(home);
  return home;
}

afterAll(() => Promise.all(homes.map((home) => rm(home, { recursive: true, force: true }))));

/** What identifies each child in its command line. */
const natsProcess = (home: string) => path.join(home, "nats");
const postgresProcess = (home: string) => path.join(home, "postgres");
const serviceProcess = (name: string) => path.join("services", name, "dist/main.js");

/** SIGKILLs the supervisor's child that `marker` names; resolves with the pid of its replacement. */
async function killAndAwaitReplacement(herald: RunningHerald, marker: string): Promise<number> {
  const pid = await waitFor(() => herald.childPid(marker), { what: `a process running ${marker}` });
  process.kill(pid, "SIGKILL");
  return herald.whileRunning(
    waitFor(
      () => {
        const next = herald.childPid(marker);
        return next !== pid ? next : undefined;
      },
      { timeoutMs: 60_000, what: `${marker} to run again` },
    ),
  );
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(new RegExp(pattern, "g"))].length;
}

describe("a running Herald whose children die", () => {
  const windowMs = 3000;
  let home: string;
  let herald: RunningHerald;

  beforeAll(async () => {
    home = await freshHome();
    // A small window, so that deaths can be spread beyond it; 3 restarts leave room for a
    // restarted Postgres that needs a second try.
    herald = await startHerald(home, {
      HERALD_RESTART_MAX: "3",
      HERALD_RESTART_WINDOW_MS: String(windowMs),
      ADMIN_TOKEN,
    });
    expect(herald.child.exitCode).toBeNull();
    await createApp(herald, ADMIN_TOKEN, "app1");
  }, 300_000); // beyond startHerald's own limit, whose error carries Herald's output

  afterAll(async () => {
    herald.interrupt();
    expect(await herald.exited).toBe(0);
    expect(stopOrderProblems(herald.output())).toEqual([]);
  }, 60_000);

  it(
    "restarts nats-server on its port and data; the services reconnect and publish works again",
    {
      timeout: 120_000,
    },
    async () => {
      await killAndAwaitReplacement(herald, natsProcess(home));
      expect(herald.output()).toMatch(
        /nats-server exited \(signal SIGKILL\); restarting it \(attempt 1 of 3 in the last 3 s\)/,
      );
      await herald.whileRunning(
        waitFor(() => allReady(herald), { timeoutMs: 60_000, what: "every service ready" }),
      );
      const client = heraldClient(herald.grpc!);
      try {
        // The gateway's publish needs JetStream's ack: it goes through the restarted server.
        const res = await herald.whileRunning(
          waitFor(() => publish(client, [onlineEvent("app1")]), { timeoutMs: 60_000, what: "a publish" }),
        );
        expect(res.results).toHaveLength(1);
      } finally {
        client.close();
      }
    },
  );

  it("restarts Postgres on its port and data; the log store reconnects", { timeout: 120_000 }, async () => {
    await killAndAwaitReplacement(herald, postgresProcess(home));
    expect(herald.output()).toMatch(
      /Postgres exited \(signal SIGKILL\); restarting it \(attempt 1 of 3 in the last 3 s\)/,
    );
    // The log store's readiness queries Postgres: 200 means it reached the new server.
    const logstore = herald.health.logstore!;
    await herald.whileRunning(
      waitFor(async () => (await fetch(`${logstore}/readyz`)).status === 200, {
        timeoutMs: 60_000,
        what: "the log store ready",
      }),
    );
  });

  it(
    "keeps restarting a service that dies now and then, past the old limit of five in its lifetime",
    {
      timeout: 240_000,
    },
    async () => {
      const presence = herald.health.presence!;
      for (let death = 1; death <= 6; death++) {
        await killAndAwaitReplacement(herald, serviceProcess("presence"));
        const restartedAt = Date.now();
        await herald.whileRunning(
          waitFor(async () => (await fetch(`${presence}/readyz`)).status === 200, {
            timeoutMs: 60_000,
            what: "presence ready",
          }),
        );
        // The next death comes after this one has left the restart window.
        await waitFor(() => Date.now() - restartedAt > windowMs, { timeoutMs: windowMs + 1000 });
      }
      expect(
        count(
          herald.output(),
          /presence exited \(signal SIGKILL\); restarting it \(attempt 1 of 3 in the last 3 s\)/,
        ),
      ).toBe(6);
      expect(await allReady(herald)).toBe(true);
    },
  );
});

it(
  "stops Herald in order, with exit code 1, when a service dies faster than its restart budget",
  {
    timeout: 240_000,
  },
  async () => {
    const herald = await startHerald(await freshHome(), {
      HERALD_RESTART_MAX: "2",
      HERALD_RESTART_WINDOW_MS: "600000",
    });
    try {
      await killAndAwaitReplacement(herald, serviceProcess("presence"));
      await killAndAwaitReplacement(herald, serviceProcess("presence"));
      process.kill(herald.childPid(serviceProcess("presence"))!, "SIGKILL");
      await waitFor(() => herald.child.exitCode !== null, { timeoutMs: 90_000, what: "Herald to stop" });
    } finally {
      if (herald.child.exitCode === null) {
        herald.interrupt();
        await herald.exited;
      }
    }
    const out = herald.output();
    expect(herald.child.exitCode).toBe(1);
    expect(out).toMatch(
      /presence exited \(signal SIGKILL\) 3 times in the last 600 s, more than its restart budget allows \(HERALD_RESTART_MAX=2, HERALD_RESTART_WINDOW_MS=600000\); stopping Herald/,
    );
    expect(
      stopOrderProblems(
        out,
        SERVICE_NAMES.filter((s) => s !== "presence"),
      ),
    ).toEqual([]);
    expect(out).toContain("herald: stopped");
  },
);
