import { randomBytes } from "node:crypto";
import { applyTopology, connectBus } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { ConflictError } from "@herald/runtime";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deleteEndpointState,
  endpointStateKey,
  putApp,
  readEndpointState,
  validateAppConfig,
  watchConfig,
  writeEndpointState,
} from "./index.js";
import type { ConfigView, EndpointState, EndpointStateEntry } from "./index.js";

const log = pino({ level: process.env["LOG_LEVEL"] ?? "silent" });
let nats: NatsFixture;
const buses: Bus[] = [];
const views: ConfigView[] = [];

// Each test gets a namespace of its own, so its CONFIG bucket starts empty.
async function freshBus(): Promise<Bus> {
  const namespace = `${nats.namespace}${randomBytes(2).toString("hex")}`;
  const bus = await connectBus({ servers: nats.url, name: "endpoint-state-test", log, namespace });
  buses.push(bus);
  await applyTopology(bus, { replicas: 1 });
  return bus;
}

const paused: EndpointState = {
  state: "paused",
  until: "2030-01-01T00:01:00.000Z",
  reason: "20 timeouts in 10 s",
  since: "2030-01-01T00:00:00.000Z",
};
const disabled: EndpointState = {
  state: "disabled",
  reason: "401 Unauthorized",
  since: "2030-01-01T00:02:00.000Z",
  failingSince: "2029-12-27T00:00:00.000Z",
};

beforeAll(async () => {
  nats = await startNats();
});

afterAll(async () => {
  await Promise.all(views.map((view) => view.close()));
  await Promise.all(buses.map((bus) => bus.drain()));
  await nats?.stop();
});

describe("endpoint state", () => {
  it("writes, reads back, and refuses a write based on a stale revision", async () => {
    const bus = await freshBus();
    expect(await readEndpointState(bus, "app1", "ep1")).toBeUndefined();

    const first = await writeEndpointState(bus, "app1", "ep1", paused, { previousRevision: 0 });
    expect(await readEndpointState(bus, "app1", "ep1")).toEqual({ state: paused, revision: first });
    // 0 means "only if absent", and it is there now.
    await expect(
      writeEndpointState(bus, "app1", "ep1", disabled, { previousRevision: 0 }),
    ).rejects.toBeInstanceOf(ConflictError);

    const second = await writeEndpointState(bus, "app1", "ep1", disabled, { previousRevision: first });
    await expect(
      writeEndpointState(bus, "app1", "ep1", paused, { previousRevision: first }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(await readEndpointState(bus, "app1", "ep1")).toEqual({ state: disabled, revision: second });

    // Without a revision the write always happens.
    const third = await writeEndpointState(bus, "app1", "ep1", paused);
    expect(third).toBeGreaterThan(second);

    await deleteEndpointState(bus, "app1", "ep1");
    expect(await readEndpointState(bus, "app1", "ep1")).toBeUndefined();
    // Deleted counts as absent.
    await writeEndpointState(bus, "app1", "ep1", paused, { previousRevision: 0 });
  });

  it("refuses an invalid state or id", async () => {
    const bus = await freshBus();
    await expect(
      writeEndpointState(bus, "app1", "ep1", { state: "paused", reason: "", since: paused.since }),
    ).rejects.toMatchObject({ name: "ConfigFileError", path: "endpoints.app1.ep1.until" });
    await expect(writeEndpointState(bus, "app1", "ep.1", paused)).rejects.toMatchObject({
      name: "ConfigFileError",
      path: "endpointId",
    });
  });

  it("is followed by the CONFIG view, which ignores invalid values", async () => {
    const bus = await freshBus();
    await putApp(bus, validateAppConfig({ appId: "app1", openim: { url: "http://127.0.0.1:10006/cb" } }));
    const before = await writeEndpointState(bus, "app1", "ep1", paused);
    const view = await watchConfig(bus, log);
    views.push(view);
    // Loaded before watchConfig resolves.
    expect(view.endpointState("app1", "ep1")).toEqual({ state: paused, revision: before });
    expect(view.app("app1")).toBeDefined();

    const changes: Array<[string, string, EndpointStateEntry | undefined]> = [];
    view.onEndpointStateChange((appId, endpointId, entry) => changes.push([appId, endpointId, entry]));
    const kv = await bus.kv(bus.names.buckets.config);
    await kv.put(endpointStateKey("app1", "ep1"), JSON.stringify({ state: "sleeping" }));
    const after = await writeEndpointState(bus, "app1", "ep2", disabled);
    await waitFor(() => view.endpointState("app1", "ep2"), { what: "the state of ep2" });
    // The invalid write came first (the watch delivers in order) and left the previous value.
    expect(view.endpointState("app1", "ep1")?.state).toEqual(paused);

    await deleteEndpointState(bus, "app1", "ep1");
    await waitFor(() => view.endpointState("app1", "ep1") === undefined, { what: "ep1's state to go" });
    expect(changes).toEqual([
      ["app1", "ep2", { state: disabled, revision: after }],
      ["app1", "ep1", undefined],
    ]);
    // The apps are still followed beside the states.
    expect(view.app("app1")?.openim?.url).toBe("http://127.0.0.1:10006/cb");
  });
});
