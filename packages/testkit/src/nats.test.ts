import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { UnsupportedFixtureOperationError } from "./errors.js";
import { startLocalNats, startNats, type NatsFixture } from "./nats.js";

const sharedServer = Boolean(process.env["NATS_URL"]) && !process.env["HERALD_TEST_NATS"];

// Streams and subjects carry the fixture's namespace, as services do on a shared server.
function names(fixture: NatsFixture): { stream: string; subject: string } {
  const prefix = fixture.namespace ? `${fixture.namespace}_` : "";
  return { stream: `${prefix}EVENTS`, subject: `${prefix}events.im` };
}

async function withConnection<T>(fixture: NatsFixture, use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: fixture.url });
  try {
    return await use(nc);
  } finally {
    await nc.close();
  }
}

async function publishToNewStream(fixture: NatsFixture, payloads: string[]): Promise<void> {
  const { stream, subject } = names(fixture);
  await withConnection(fixture, async (nc) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${subject}.>`], storage: StorageType.File });
    const js = jetstream(nc);
    for (const payload of payloads) await js.publish(`${subject}.m`, payload);
  });
}

async function readStream(fixture: NatsFixture): Promise<string[]> {
  return withConnection(fixture, async (nc) => {
    const consumer = await jetstream(nc).consumers.get(names(fixture).stream);
    const { state } = await (await jetstreamManager(nc)).streams.info(names(fixture).stream);
    const read: string[] = [];
    while (read.length < state.messages) {
      const msg = await consumer.next({ expires: 2_000 });
      if (msg === null) break;
      read.push(msg.string());
    }
    return read;
  });
}

describe("startNats", () => {
  const fixtures: NatsFixture[] = [];
  afterEach(async () => {
    await Promise.all(fixtures.splice(0).map((fixture) => fixture.stop()));
  });

  it("serves JetStream: a stream takes messages and gives them back", async () => {
    const nats = await startNats();
    fixtures.push(nats);
    expect(sharedServer ? ["env"] : ["container", "local"]).toContain(nats.source);
    await publishToNewStream(nats, ["one", "two"]);
    expect(await readStream(nats)).toEqual(["one", "two"]);
  });

  it("keeps two fixtures in one file apart", async () => {
    const [a, b] = await Promise.all([startNats(), startNats()]);
    fixtures.push(a, b);
    if (sharedServer) {
      expect(a.namespace).toMatch(/^[a-z0-9]{1,12}$/);
      expect(b.namespace).not.toBe(a.namespace);
    } else {
      expect(a.namespace).toBe("");
      expect(b.url).not.toBe(a.url);
    }
    await publishToNewStream(a, ["a1"]);
    await publishToNewStream(b, ["b1", "b2"]);
    expect(await readStream(a)).toEqual(["a1"]);
    expect(await readStream(b)).toEqual(["b1", "b2"]);
  });

  it.runIf(sharedServer)(
    "on a shared server, refuses fault operations and deletes its streams on stop",
    async () => {
      const nats = await startNats();
      await publishToNewStream(nats, ["x"]);
      await expect(nats.kill()).rejects.toThrow(UnsupportedFixtureOperationError);
      await expect(nats.restart()).rejects.toThrow(/HERALD_TEST_NATS=local/);
      await nats.stop();
      const left = await withConnection(nats, async (nc) => {
        const streams: string[] = [];
        for await (const name of (await jetstreamManager(nc)).streams.names()) streams.push(name);
        return streams;
      });
      expect(left).not.toContain(names(nats).stream);
    },
  );
});

describe("a local nats-server", () => {
  let nats: NatsFixture;
  beforeAll(async () => {
    nats = await startLocalNats({ jetstream: true });
  });
  afterAll(async () => {
    await nats.stop();
  });

  it("keeps stored messages across kill() and start() on the same url", async () => {
    expect(nats.source).toBe("local");
    await publishToNewStream(nats, ["before kill"]);
    const url = nats.url;
    await nats.kill();
    await expect(connect({ servers: url, reconnect: false, timeout: 500 })).rejects.toThrow();
    await nats.start();
    expect(nats.url).toBe(url);
    await withConnection(nats, async (nc) =>
      jetstream(nc).publish(`${names(nats).subject}.m`, "after start"),
    );
    await nats.restart();
    expect(await readStream(nats)).toEqual(["before kill", "after start"]);
  });
});
