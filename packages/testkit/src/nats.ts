import { rm } from "node:fs/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { containerRuntimeAvailable } from "./container-runtime.js";
import { FixtureStartError, UnsupportedFixtureOperationError } from "./errors.js";
import {
  findExecutable,
  makeRunTempDir,
  spawnTiedToParent,
  sweepStaleTempDirs,
  terminate,
  type TiedProcess,
} from "./process-lifetime.js";
import { randomToken } from "./random-token.js";
import { describeError, freePort, waitFor } from "./wait.js";

export interface NatsFixture {
  url: string;
  stop(): Promise<void>;
  /** Stop, then start again on the same port and store dir. Local source only. */
  restart(): Promise<void>;
  /** Stop the server (SIGTERM, wait for exit) and keep its store. Local source only. */
  kill(): Promise<void>;
  /** Start again after kill(), on the same port and store dir. Local source only. */
  start(): Promise<void>;
  readonly source: "env" | "container" | "local";
  /** "" when the server is this fixture's own; a unique token to prefix streams and subjects with when shared. */
  readonly namespace: string;
}

export interface StartNatsOptions {
  /** Require JetStream (default true). */
  jetstream?: boolean;
  /**
   * "local" insists on a nats-server process of this fixture's own, whatever NATS_URL says:
   * for tests that stop and restart the server, which a shared one must never be.
   */
  source?: "local";
}

const NATS_IMAGE = "nats:2.10";
const READY_TIMEOUT_MS = 15_000;
const LAUNCH_ATTEMPTS = 3;

/** NATS_URL if set; else a Testcontainers NATS if a container runtime answers; else a local nats-server. */
export async function startNats(opts: StartNatsOptions = {}): Promise<NatsFixture> {
  const jetstream = opts.jetstream ?? true;
  const forced = opts.source ?? process.env["HERALD_TEST_NATS"];
  if (forced === "local") return startLocalNats({ jetstream });
  if (forced === "container") return startContainerNats({ jetstream });
  if (forced) {
    throw new FixtureStartError(`HERALD_TEST_NATS must be "local" or "container", not "${forced}"`, "nats");
  }
  const envUrl = process.env["NATS_URL"];
  if (envUrl) return useSharedNats(envUrl, { jetstream });
  if (await containerRuntimeAvailable()) return startContainerNats({ jetstream });
  return startLocalNats({ jetstream });
}

async function useSharedNats(url: string, { jetstream }: { jetstream: boolean }): Promise<NatsFixture> {
  await waitFor(() => probeNats(url, jetstream), {
    timeoutMs: READY_TIMEOUT_MS,
    what: `NATS at NATS_URL=${url}${jetstream ? " with JetStream" : ""}`,
  });
  // Starts with a letter so it also makes a valid identifier.
  const namespace = `t${randomToken(7)}`;
  return {
    url,
    source: "env",
    namespace,
    // The server is shared, so leave it running and take away only what this fixture's tests made.
    stop: () => (jetstream ? deleteStreamsNamed(url, namespace) : Promise.resolve()),
    ...faultOperationsUnsupported("env"),
  };
}

async function startContainerNats({ jetstream }: { jetstream: boolean }): Promise<NatsFixture> {
  const { GenericContainer, Wait } = await import("testcontainers");
  // Not @testcontainers/nats: it always sets --user/--pass, and nats.js ignores credentials in a URL.
  const container = await new GenericContainer(NATS_IMAGE)
    .withCommand(jetstream ? ["-js"] : [])
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start();
  const url = `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
  await waitFor(() => probeNats(url, jetstream), {
    timeoutMs: READY_TIMEOUT_MS,
    what: `NATS container at ${url}`,
  });
  return {
    url,
    source: "container",
    namespace: "",
    stop: async () => {
      await container.stop();
    },
    ...faultOperationsUnsupported("container"),
  };
}

/** A nats-server child process with its own port and store dir. Exported for the fixture's own tests. */
export async function startLocalNats({ jetstream }: { jetstream: boolean }): Promise<NatsFixture> {
  const binary = natsServerBinary(
    "or set NATS_URL to a NATS server with JetStream, or run Docker for Testcontainers",
  );
  await sweepStaleTempDirs();
  const server = new LocalNatsServer(binary, await makeRunTempDir("nats"), jetstream);
  await server.launchOnFreePort();
  return server;
}

class LocalNatsServer implements NatsFixture {
  readonly source = "local";
  readonly namespace = "";
  private port = 0;
  private process: TiedProcess | undefined;
  private stopped = false;

  constructor(
    private readonly binary: string,
    private readonly storeDir: string,
    private readonly jetstream: boolean,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  // Another process may take the free port before nats-server binds it, so try a few.
  async launchOnFreePort(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      try {
        return await this.launch();
      } catch (err) {
        if (attempt >= LAUNCH_ATTEMPTS) throw err;
      }
    }
  }

  async start(): Promise<void> {
    if (this.stopped) throw new FixtureStartError("start() after stop(): this NATS fixture is gone", "nats");
    if (this.process === undefined) await this.launch();
  }

  async kill(): Promise<void> {
    const running = this.process;
    this.process = undefined;
    if (running !== undefined) await terminate(running);
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.kill();
    await rm(this.storeDir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const args = ["-a", "127.0.0.1", "-p", String(this.port)];
    if (this.jetstream) args.push("-js", "-sd", this.storeDir);
    const proc = spawnTiedToParent(this.binary, args);
    const exitedEarly = proc.exited.then(({ code, signal }) => {
      throw new FixtureStartError(
        `nats-server exited before it was ready (code ${code}, signal ${signal}): ${proc.output().trim()}`,
        "nats",
      );
    });
    try {
      await Promise.race([
        exitedEarly,
        waitFor(() => probeNats(this.url, this.jetstream), {
          timeoutMs: READY_TIMEOUT_MS,
          what: `nats-server on ${this.url}`,
        }),
      ]);
    } catch (err) {
      await terminate(proc);
      throw err instanceof FixtureStartError
        ? err
        : new FixtureStartError(`${describeError(err)}; output: ${proc.output().trim()}`, "nats", {
            cause: err,
          });
    } finally {
      exitedEarly.catch(() => undefined);
    }
    this.process = proc;
  }
}

/** True once a client can connect and, when asked for, JetStream answers. */
async function probeNats(url: string, jetstream: boolean): Promise<boolean> {
  const nc = await connect({ servers: url, timeout: 1_000, reconnect: false });
  try {
    if (jetstream) await jetstreamManager(nc, { timeout: 1_000 });
    return true;
  } finally {
    await nc.close();
  }
}

async function deleteStreamsNamed(url: string, namespace: string): Promise<void> {
  const nc = await connect({ servers: url, timeout: 2_000, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    const doomed: string[] = [];
    for await (const name of jsm.streams.names()) {
      if (name.toLowerCase().includes(namespace)) doomed.push(name);
    }
    for (const name of doomed) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

function faultOperationsUnsupported(
  source: "env" | "container",
): Pick<NatsFixture, "restart" | "kill" | "start"> {
  const reject = (operation: string) => () =>
    Promise.reject(
      new UnsupportedFixtureOperationError(
        `${operation}() needs a nats-server this fixture runs itself (source "local"), but this one is "${source}". ` +
          `Start the fixture with startNats({ source: "local" }) for fault tests.`,
        operation,
        source,
      ),
    );
  return { restart: reject("restart"), kill: reject("kill"), start: reject("start") };
}

/** The nats-server executable (PATH, /usr/sbin, ...); a FixtureStartError naming `otherwise` when absent. */
export function natsServerBinary(otherwise: string): string {
  const binary = findExecutable("nats-server", ["/usr/sbin", "/usr/local/bin", "/usr/bin"]);
  if (binary === undefined) {
    throw new FixtureStartError(
      `nats-server not found on PATH or in /usr/sbin. Install it (Debian/Ubuntu: \`apt-get install nats-server\`), ${otherwise}.`,
      "nats",
    );
  }
  return binary;
}
