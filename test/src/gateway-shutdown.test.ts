import { afterAll, expect, it } from "vitest";
import { PublishStreamRequest, type PublishStreamResponse } from "@herald/proto";
import { appScopedMsgId, busNames } from "@herald/bus";
import { startNats, waitFor, type NatsFixture } from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { configureApps } from "./apps.js";
import { heraldClient, onlineEvent, publish } from "./grpc-client.js";
import { storedMsgIds } from "./stream-contents.js";

let nats: NatsFixture | undefined;
let gateway: ServiceProcess | undefined;

afterAll(async () => {
  await stopAll(gateway ? [gateway] : []);
  await nats?.stop();
});

it("keeps every acknowledged event when the gateway is stopped with SIGTERM mid-flow, and exits 0", async () => {
  nats = await startNats();
  const gw = await startService("gateway", { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace });
  gateway = gw;
  await gw.waitReady();
  await configureApps({ NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace }, ["app1"]);
  const client = heraldClient(gw.grpcAddress);
  const acked = new Set<string>();
  let failures = 0;

  // Four unary publishers and one stream publisher, each going until the gateway refuses.
  const unary = [1, 2, 3, 4].map(async () => {
    for (;;) {
      const batch = Array.from({ length: 5 }, () => onlineEvent("app1"));
      try {
        const res = await publish(client, batch);
        for (const r of res.results) acked.add(r.eventId);
      } catch {
        failures += 1;
        return;
      }
    }
  });
  const streamed = new Promise<void>((resolve) => {
    const call = client.publishStream();
    let batchId = 0;
    const send = () => {
      batchId += 1;
      call.write(
        PublishStreamRequest.fromPartial({ batchId, events: [onlineEvent("app1"), onlineEvent("app1")] }),
      );
    };
    call.on("data", (res: PublishStreamResponse) => {
      for (const r of res.results) acked.add(r.eventId);
      send();
    });
    call.on("end", resolve);
    call.on("error", () => resolve());
    for (let i = 0; i < 4; i++) send();
  });

  await waitFor(() => acked.size >= 300, { timeoutMs: 30_000, what: "300 acknowledged events" });
  const ackedAtSignal = acked.size;
  const code = await gw.stop("SIGTERM");
  await Promise.all([...unary, streamed]);
  client.close();

  expect(code).toBe(0);
  expect(failures).toBe(4); // every unary publisher was refused in the end
  expect(acked.size).toBeGreaterThanOrEqual(ackedAtSignal);
  const stored = await storedMsgIds(nats.url, busNames(nats.namespace).streams.events);
  const missing = [...acked].filter((id) => !stored.has(appScopedMsgId("app1", id)));
  expect(missing).toEqual([]);
  expect(gw.lines.some((l) => l.includes('"grpc intake"'))).toBe(true);
});
