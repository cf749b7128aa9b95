import { randomBytes } from "node:crypto";
import { applyTopology, connectBus } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError } from "@herald/runtime";
import {
  applyConfigFile,
  appKey,
  deleteApp,
  fileStatusOfApp,
  putApp,
  readApp,
  readAppEntry,
  returnAppToFile,
  validateAppConfig,
  watchConfig,
} from "./index.js";
import type { AppConfig, ConfigView } from "./index.js";

const log = pino({ level: process.env["LOG_LEVEL"] ?? "silent" });
let nats: NatsFixture;
const buses: Bus[] = [];
const views: ConfigView[] = [];

// Each test gets a namespace of its own, so its CONFIG bucket starts empty.
async function freshBus(): Promise<Bus> {
  const namespace = `${nats.namespace}${randomBytes(2).toString("hex")}`;
  const bus = await connectBus({ servers: nats.url, name: "config-test", log, namespace });
  buses.push(bus);
  await applyTopology(bus, { replicas: 1 });
  return bus;
}

async function watch(bus: Bus): Promise<ConfigView> {
  const view = await watchConfig(bus, log);
  views.push(view);
  return view;
}

function app(appId: string, overrides: { timeout?: number; source?: "file" | "api" } = {}): AppConfig {
  return validateAppConfig({
    appId,
    openim: {
      url: "http://127.0.0.1:10006/callbackExample",
      hooks: { beforeSendSingleMsg: { enable: true, timeout: overrides.timeout ?? 5 } },
    },
    source: overrides.source ?? "api",
  });
}

beforeAll(async () => {
  nats = await startNats();
});

afterAll(async () => {
  await Promise.all(views.map((view) => view.close()));
  await Promise.all(buses.map((bus) => bus.drain()));
  await nats?.stop();
});

describe("the CONFIG view", () => {
  it("loads what was put before the watch, then follows changes and deletions", async () => {
    const bus = await freshBus();
    await putApp(bus, app("app1", { timeout: 3 }));
    const view = await watch(bus);
    // Resolved after the initial load, so the value is there without waiting.
    expect(view.app("app1")?.openim?.hooks["beforeSendSingleMsg"]?.timeout).toBe(3);

    const changes: Array<[string, number | undefined]> = [];
    view.onChange((appId, changed) =>
      changes.push([appId, changed?.openim?.hooks["beforeSendSingleMsg"]?.timeout]),
    );
    await putApp(bus, app("app1", { timeout: 7 }));
    await putApp(bus, app("app2"));
    await waitFor(() => view.app("app1")?.openim?.hooks["beforeSendSingleMsg"]?.timeout === 7, {
      what: "the change to app1",
    });
    await waitFor(() => view.app("app2"), { what: "app2" });
    expect(
      view
        .apps()
        .map((a) => a.appId)
        .sort(),
    ).toEqual(["app1", "app2"]);

    await deleteApp(bus, "app1");
    await waitFor(() => view.app("app1") === undefined, { what: "app1 to be deleted" });
    expect(changes).toEqual([
      ["app1", 7],
      ["app2", 5],
      ["app1", undefined],
    ]);
  });

  it("ignores an invalid value in KV and keeps the previous one", async () => {
    const bus = await freshBus();
    await putApp(bus, app("app1", { timeout: 3 }));
    const view = await watch(bus);
    const kv = await bus.kv(bus.names.buckets.config);

    const bad = { ...app("app1"), openim: { ...app("app1").openim, urlStyle: "header" } };
    await kv.put(appKey("app1"), JSON.stringify(bad));
    await kv.put(appKey("app2"), "{not json");
    // A later good write proves the bad ones were seen (the watch delivers in order) and passed over.
    await putApp(bus, app("app3"));
    await waitFor(() => view.app("app3"), { what: "app3" });
    expect(view.app("app1")?.openim?.hooks["beforeSendSingleMsg"]?.timeout).toBe(3);
    expect(view.app("app1")?.openim?.urlStyle).toBe("path");
    expect(view.app("app2")).toBeUndefined();
  });

  it("refuses to put an invalid app", async () => {
    const bus = await freshBus();
    const invalid = { ...app("app1"), breaker: { failureThreshold: 0, openMs: 5000 } };
    await expect(putApp(bus, invalid)).rejects.toMatchObject({
      name: "ConfigFileError",
      path: "apps.app1.breaker.failureThreshold",
    });
  });
});

describe("appNow", () => {
  it("answers a known app from the view and one the view lacks from the bucket itself", async () => {
    const bus = await freshBus();
    await putApp(bus, app("known", { timeout: 3 }));
    const view = await watch(bus);
    // A view that stopped following stands for one that lags: only the bucket has what came after.
    await view.close();
    await putApp(bus, app("known", { timeout: 9 }));
    await putApp(bus, app("fresh"));
    expect(view.app("fresh")).toBeUndefined();
    expect((await view.appNow("fresh"))?.appId).toBe("fresh");
    expect(await view.appNow("nowhere")).toBeUndefined();
    // The view's copy will do unless the caller says it will not (the evaluator: a hook still disabled).
    const timeout = (a: AppConfig | undefined) => a?.openim?.hooks["beforeSendSingleMsg"]?.timeout;
    expect(timeout(await view.appNow("known"))).toBe(3);
    expect(timeout(await view.appNow("known", (a) => timeout(a) === 9))).toBe(9);
  });
});

describe("putApp with a revision", () => {
  it("writes only over the revision it read: a second writer's change is never lost silently", async () => {
    const bus = await freshBus();
    await putApp(bus, app("cas1"));
    const first = await readAppEntry(bus, "cas1");
    const second = await readAppEntry(bus, "cas1");
    expect(first?.revision).toBe(second?.revision);
    const written = await putApp(bus, app("cas1", { timeout: 7 }), { previousRevision: first!.revision });
    await expect(
      putApp(bus, app("cas1", { timeout: 9 }), { previousRevision: second!.revision }),
    ).rejects.toBeInstanceOf(ConflictError);
    const now = await readAppEntry(bus, "cas1");
    expect(now?.revision).toBe(written);
    expect(now?.app).toEqual(validateAppConfig(app("cas1", { timeout: 7 })));
  });
});

describe("applyConfigFile", () => {
  it("puts, skips the unchanged, deletes file apps gone from the file, and leaves api apps alone", async () => {
    const bus = await freshBus();
    await putApp(bus, app("fromApi", { source: "api" }));

    const first = await applyConfigFile(bus, [app("a"), app("b"), app("c")], log);
    expect(first).toEqual({ put: ["a", "b", "c"], deleted: [], unchanged: [], keptByApi: [] });

    const second = await applyConfigFile(bus, [app("a"), app("b", { timeout: 9 })], log);
    expect(second).toEqual({ put: ["b"], deleted: ["c"], unchanged: ["a"], keptByApi: [] });

    const view = await watch(bus);
    expect(
      view
        .apps()
        .map((a) => a.appId)
        .sort(),
    ).toEqual(["a", "b", "fromApi"]);
    expect(view.app("a")?.source).toBe("file");
    expect(view.app("b")?.openim?.hooks["beforeSendSingleMsg"]?.timeout).toBe(9);
    expect(view.app("fromApi")?.source).toBe("api");

    const emptied = await applyConfigFile(bus, [], log);
    expect(emptied).toEqual({ put: [], deleted: ["a", "b"], unchanged: [], keptByApi: [] });
    await waitFor(() => view.apps().length === 1, { what: "only the api app to remain" });
    expect(view.app("fromApi")).toBeDefined();
  });

  it("keeps an app the API edited over later file changes, says the file differs, and hands it back", async () => {
    const bus = await freshBus();
    await applyConfigFile(bus, [app("a")], log);
    expect(await fileStatusOfApp(bus, (await readApp(bus, "a"))!)).toEqual({ differs: false });
    await putApp(bus, app("a", { timeout: 7, source: "api" }));

    const changed = await applyConfigFile(bus, [app("a", { timeout: 9 })], log);
    expect(changed).toEqual({ put: [], deleted: [], unchanged: [], keptByApi: ["a"] });
    const kept = (await readApp(bus, "a"))!;
    expect(kept.openim?.hooks["beforeSendSingleMsg"]?.timeout).toBe(7);
    expect(kept.source).toBe("api");
    expect(await fileStatusOfApp(bus, kept)).toEqual({ differs: true });

    const back = await returnAppToFile(bus, "a");
    expect(back?.source).toBe("file");
    expect((await readApp(bus, "a"))?.openim?.hooks["beforeSendSingleMsg"]?.timeout).toBe(9);
    expect(await returnAppToFile(bus, "nope")).toBeUndefined();

    // Gone from the file: no longer declared there, so nothing to compare or hand back.
    await applyConfigFile(bus, [], log);
    expect(await returnAppToFile(bus, "a")).toBeUndefined();
  });
});
