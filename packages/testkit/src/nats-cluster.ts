import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { FixtureStartError } from "./errors.js";
import {
  makeRunTempDir,
  spawnTiedToParent,
  sweepStaleTempDirs,
  terminate,
  type TiedProcess,
} from "./process-lifetime.js";
import { natsServerBinary } from "./nats.js";
import { describeError, freePort, waitFor } from "./wait.js";

/** One nats-server of a cluster fixture. */
export interface ClusterServer {
  /** Its server_name, as JetStream reports it in `cluster.leader` and `cluster.replicas`. */
  readonly name: string;
  /** nats://127.0.0.1:<client port> */
  readonly url: string;
  /** The running process's id; undefined while the server is down. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Signals the server (default SIGKILL: a crash, no goodbye to its peers) and resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again after kill(), with the same config file, ports and store dir; resolves once it takes clients. */
  start(): Promise<void>;
  /** The last few KiB the current (or last) process wrote, for failure messages. */
  output(): string;
}

export interface NatsClusterFixture {
  /** The client URLs of every server, comma-separated (as NATS_URL documents it). */
  readonly urls: string;
  readonly servers: readonly ClusterServer[];
  /** Always "": the cluster is this fixture's own, so nothing needs prefixing. */
  readonly namespace: string;
  /** The server whose server_name is `name`; throws for an unknown name. */
  server(name: string): ClusterServer;
  /** Kills every server and removes the store dirs and config files. */
  stop(): Promise<void>;
}

export interface StartNatsClusterOptions {
  /** Number of servers (default 3; JetStream needs a majority of them up to elect leaders). */
  size?: number;
}

const CLUSTER_NAME = "herald-test";
const READY_TIMEOUT_MS = 30_000;
const LAUNCH_ATTEMPTS = 3;
const STOP_GRACE_MS = 2_000;

/**
 * A JetStream cluster of local nats-server processes on loopback, for tests that kill a stream
 * leader. Resolves once the meta group has a leader with every peer current and a client can
 * read the account's JetStream info, so streams with `size` replicas can be created at once.
 */
export async function startNatsCluster(opts: StartNatsClusterOptions = {}): Promise<NatsClusterFixture> {
  const size = opts.size ?? 3;
  if (!Number.isInteger(size) || size < 1) {
    throw new FixtureStartError(`startNatsCluster: size must be a positive integer, not ${size}`, "nats");
  }
  const binary = natsServerBinary("which the cluster fixture needs");
  await sweepStaleTempDirs();
  const dir = await makeRunTempDir("nats");
  // Another process may take a free port before nats-server binds it, so try a few sets.
  for (let attempt = 1; ; attempt++) {
    const servers = await planServers(binary, dir, size);
    try {
      await Promise.all(servers.map((s) => s.start()));
      await waitForClusterReady(servers);
      return new NatsCluster(servers, dir);
    } catch (err) {
      await Promise.all(servers.map((s) => s.kill()));
      if (attempt >= LAUNCH_ATTEMPTS) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

class NatsCluster implements NatsClusterFixture {
  readonly namespace = "";
  readonly urls: string;

  constructor(
    readonly servers: readonly LocalClusterServer[],
    private readonly dir: string,
  ) {
    this.urls = servers.map((s) => s.url).join(",");
  }

  server(name: string): ClusterServer {
    const found = this.servers.find((s) => s.name === name);
    if (found === undefined) {
      throw new Error(
        `no server named ${name} in this cluster (${this.servers.map((s) => s.name).join(", ")})`,
      );
    }
    return found;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.shutdown()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

interface Ports {
  client: number;
  route: number;
  http: number;
}

async function planServers(binary: string, dir: string, size: number): Promise<LocalClusterServer[]> {
  const ports: Ports[] = [];
  for (let i = 0; i < size; i++) {
    ports.push({ client: await freePort(), route: await freePort(), http: await freePort() });
  }
  return Promise.all(
    ports.map(async (own, i) => {
      const name = `n${i + 1}`;
      const storeDir = path.join(dir, name);
      const configFile = path.join(dir, `${name}.conf`);
      await rm(storeDir, { recursive: true, force: true });
      await mkdir(storeDir, { recursive: true });
      const routes = ports.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p.route}`);
      await writeFile(configFile, serverConfig({ name, ports: own, storeDir, routes }));
      return new LocalClusterServer(binary, name, configFile, own);
    }),
  );
}

function serverConfig(s: { name: string; ports: Ports; storeDir: string; routes: string[] }): string {
  return [
    `server_name: ${JSON.stringify(s.name)}`,
    `listen: "127.0.0.1:${s.ports.client}"`,
    `http: "127.0.0.1:${s.ports.http}"`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(s.storeDir)}`,
    `}`,
    `cluster {`,
    `  name: ${JSON.stringify(CLUSTER_NAME)}`,
    `  listen: "127.0.0.1:${s.ports.route}"`,
    `  routes: [${s.routes.map((r) => JSON.stringify(r)).join(", ")}]`,
    `}`,
    "",
  ].join("\n");
}

class LocalClusterServer implements ClusterServer {
  private process: TiedProcess | undefined;
  private lastOutput = "";
  private gone = false;

  constructor(
    private readonly binary: string,
    readonly name: string,
    private readonly configFile: string,
    private readonly ports: Ports,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.ports.client}`;
  }

  get monitorUrl(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  get pid(): number | undefined {
    return this.process?.child.pid;
  }

  get running(): boolean {
    return this.process !== undefined;
  }

  output(): string {
    return this.process?.output() ?? this.lastOutput;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const running = this.process;
    if (running === undefined) return;
    this.process = undefined;
    const { child } = running;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await running.exited;
    this.lastOutput = running.output();
  }

  async shutdown(): Promise<void> {
    this.gone = true;
    const running = this.process;
    this.process = undefined;
    if (running !== undefined) await terminate(running, STOP_GRACE_MS);
  }

  async start(): Promise<void> {
    if (this.gone)
      throw new FixtureStartError(`start() after stop(): cluster server ${this.name} is gone`, "nats");
    if (this.process !== undefined) return;
    const proc = spawnTiedToParent(this.binary, ["-c", this.configFile]);
    const exitedEarly = proc.exited.then(({ code, signal }) => {
      throw new FixtureStartError(
        `nats-server ${this.name} exited before it was ready (code ${code}, signal ${signal}): ${proc.output().trim()}`,
        "nats",
      );
    });
    try {
      // Only the client port here: JetStream waits for a quorum, which the other servers may not form yet.
      await Promise.race([
        exitedEarly,
        waitFor(() => acceptsClients(this.url), {
          timeoutMs: READY_TIMEOUT_MS,
          what: `nats-server ${this.name} on ${this.url}`,
        }),
      ]);
    } catch (err) {
      await terminate(proc, STOP_GRACE_MS);
      this.lastOutput = proc.output();
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

async function acceptsClients(url: string): Promise<boolean> {
  const nc = await connect({ servers: url, timeout: 1_000, reconnect: false });
  await nc.close();
  return true;
}

/** The part of the monitoring endpoint /jsz this fixture reads. */
interface JszMeta {
  meta_cluster?: {
    leader?: string;
    cluster_size?: number;
    replicas?: Array<{ name: string; current: boolean; offline?: boolean }>;
  };
}

/**
 * Ready = the meta leader's /jsz (leader-only) lists every other server as a current peer, every
 * server names that same leader, and a client on each server gets the account's JetStream info.
 */
async function waitForClusterReady(servers: readonly LocalClusterServer[]): Promise<void> {
  await waitFor(
    async () => {
      const views = await Promise.all(servers.map((s) => jsz(s.monitorUrl)));
      const leader = views[0]?.meta_cluster?.leader;
      if (leader === undefined || leader === "") return false;
      if (!views.every((v) => v.meta_cluster?.leader === leader)) return false;
      const leaderServer = servers.find((s) => s.name === leader);
      if (leaderServer === undefined) return false;
      const peers = (await jsz(leaderServer.monitorUrl)).meta_cluster?.replicas ?? [];
      const current = new Set(peers.filter((p) => p.current && p.offline !== true).map((p) => p.name));
      if (!servers.every((s) => s.name === leader || current.has(s.name))) return false;
      await Promise.all(servers.map((s) => accountInfo(s.url)));
      return true;
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 200, what: `a JetStream cluster of ${servers.length}` },
  );
}

async function jsz(monitorUrl: string): Promise<JszMeta> {
  const res = await fetch(`${monitorUrl}/jsz`, { signal: AbortSignal.timeout(1_000) });
  if (!res.ok) throw new Error(`${monitorUrl}/jsz answered ${res.status}`);
  return (await res.json()) as JszMeta;
}

async function accountInfo(url: string): Promise<void> {
  const nc = await connect({ servers: url, timeout: 1_000, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2_000 });
    await jsm.getAccountInfo();
  } finally {
    await nc.close();
  }
}
