import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyTopology, connectBus, type Bus } from "@herald/bus";
import { putApp, validateAppConfig, watchConfig, type ConfigView } from "@herald/config";
import { NotFoundError, createLogger } from "@herald/runtime";
import { startNats, type NatsFixture } from "@herald/testkit";
import { createKnownApps } from "./known-apps.js";

const log = createLogger({ service: "known-apps-test", level: "silent" });
let nats: NatsFixture;
let bus: Bus;
let view: ConfigView;

beforeAll(async () => {
  nats = await startNats();
  bus = await connectBus({
    servers: nats.url,
    name: "known-apps-test",
    log,
    namespace: `${nats.namespace}${randomBytes(2).toString("hex")}`,
  });
  await applyTopology(bus, { replicas: 1 });
  await putApp(bus, validateAppConfig({ appId: "old" }));
  view = await watchConfig(bus, log);
});

afterAll(async () => {
  await view?.close();
  await bus?.drain();
  await nats?.stop();
});

function notFoundField(err: unknown): string | undefined {
  if (err instanceof NotFoundError) return err.field;
  throw err;
}

describe("known apps", () => {
  it("takes an app the view does not have yet from CONFIG itself, and refuses one configured nowhere", async () => {
    const known = createKnownApps({ config: view, acceptUnknown: false });
    // A view that stopped following stands for one that lags just after an admin API write.
    await view.close();
    await putApp(bus, validateAppConfig({ appId: "fresh" }));
    expect(view.app("fresh")).toBeUndefined();
    expect((await known.app("fresh", "app_id"))?.appId).toBe("fresh");
    await known.checkBatch([{ appId: "old" }, { appId: "fresh" }]);
    expect(await known.app("nowhere", "app_id").catch(notFoundField)).toBe("app_id");
    const err = await known
      .checkBatch([{ appId: "old" }, { appId: "fresh" }, { appId: "nowhere" }])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "NotFoundError", field: "events[2].app_id", index: 2, id: "nowhere" });
  });

  it("accepts any app when told to (HERALD_ACCEPT_UNKNOWN_APPS)", async () => {
    const lenient = createKnownApps({ config: view, acceptUnknown: true });
    expect(await lenient.app("nowhere", "app_id")).toBeUndefined();
    await lenient.checkBatch([{ appId: "nowhere" }]);
  });
});
