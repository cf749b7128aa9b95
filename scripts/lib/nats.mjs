// The embedded NATS server of `npm start`: found (or installed with apt-get), run with JetStream
// under HERALD_HOME, and restarted on the same port and data when it dies.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { portOpen } from "./ports.mjs";
import { prefix, say } from "./supervisor.mjs";

function findNatsServer() {
  for (const candidate of ["nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]) {
    if (!spawnSync(candidate, ["--version"], { stdio: "ignore" }).error) return candidate;
  }
  return undefined;
}

function installNatsServer() {
  const hasApt = !spawnSync("apt-get", ["--version"], { stdio: "ignore" }).error;
  const isRoot = process.getuid?.() === 0;
  if (hasApt && isRoot) {
    say("nats-server is missing: installing it with apt-get");
    spawnSync("apt-get", ["update"], { stdio: "inherit" });
    const res = spawnSync("apt-get", ["install", "-y", "nats-server"], { stdio: "inherit" });
    if (res.status === 0) return findNatsServer();
  }
  const how = hasApt
    ? "run: sudo apt-get install -y nats-server"
    : "install nats-server 2.9 or newer (https://docs.nats.io/running-a-nats-service/introduction/installation) and put it on PATH";
  throw new Error(`nats-server is not installed; ${how} -- or set NATS_URL to a NATS server with JetStream`);
}

/** Starts nats-server under `supervisor` on `port` (start.mjs chose it); resolves once it listens. */
export async function startNats(supervisor, stateDir, port) {
  const bin = findNatsServer() ?? installNatsServer();
  const store = path.join(stateDir, "nats");
  mkdirSync(store, { recursive: true });
  const args = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store, "-n", "herald-local"];
  await supervisor.keep({
    label: "nats-server",
    tier: "infra",
    // nats-server exits 0 after SIGINT, 1 after SIGTERM; both are its clean shutdown.
    stopSignal: "SIGINT",
    spawn: (spawnChild) => {
      const child = spawnChild(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
      // nats-server logs its banner at INF; only warnings and errors are worth a terminal line.
      prefix("nats", child.stderr, (line) => !line.includes("[INF]"));
      return child;
    },
    probe: () => portOpen(port),
    waitingFor: `nats-server to listen on port ${port}`,
  });
  say(`NATS with JetStream on 127.0.0.1:${port}, data in ${store}`);
  return `nats://127.0.0.1:${port}`;
}
