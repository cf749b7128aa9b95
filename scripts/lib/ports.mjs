// Local ports for `npm start`: which to listen on, whether something listens there yet, and the
// ones a start chose, kept in $HERALD_HOME/ports.json for the next start (and for the herald CLI,
// which finds a local Herald there).
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { say } from "./supervisor.mjs";

const PORTS_FILE = "ports.json";

/**
 * The ports the last start in `stateDir` chose: {grpc, logstoreGrpc, admin, nats, postgres,
 * health: {gateway, …}}, each present only if it was chosen; {} before a first start.
 */
export function keptPorts(stateDir) {
  try {
    const kept = JSON.parse(readFileSync(path.join(stateDir, PORTS_FILE), "utf8"));
    return kept !== null && typeof kept === "object" ? kept : {};
  } catch {
    // none yet, or unreadable: this start chooses afresh and writes it anew
    return {};
  }
}

/** Writes the ports this start chose, whole or not at all (a reader never sees half a file). */
export function keepPorts(stateDir, ports) {
  const file = path.join(stateDir, PORTS_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(ports, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/**
 * The port to try first: the environment's when set (0: any free one), else the one the last
 * start kept, else the default.
 */
export function preferredPort(fromEnv, kept, fallback) {
  if (fromEnv !== undefined && fromEnv !== "") return Number(fromEnv);
  return Number.isSafeInteger(kept) && kept > 0 && kept < 65536 ? kept : fallback;
}

/**
 * The preferred port when it is free, otherwise any free one; never one of `exclude` (the ports this
 * start chose already: a port closed after the check may be handed out again at once, and two
 * services then race for it and one dies of EADDRINUSE).
 */
export async function pickPort(preferred, exclude = new Set()) {
  const tryListen = (port) =>
    new Promise((resolve) => {
      if (port !== 0 && exclude.has(port)) return resolve(undefined);
      const srv = net.createServer();
      srv.once("error", () => resolve(undefined));
      srv.listen(port, "127.0.0.1", () => {
        const { port: bound } = srv.address();
        srv.close(() => resolve(exclude.has(bound) ? undefined : bound));
      });
    });
  let port = preferred === 0 ? undefined : await tryListen(preferred);
  for (let tries = 0; port === undefined && tries < 20; tries++) {
    port = (await tryListen(belowEphemeral())) ?? (await tryListen(0));
  }
  if (port === undefined) throw new Error("found no free port");
  if (preferred !== 0 && port !== preferred) say(`port ${preferred} is taken; using ${port}`);
  return port;
}

/**
 * A random port below the kernel's ephemeral range (32768-60999 on Linux by default): one from that
 * range, free now, may be taken by an outgoing connection before the service binds it, and the
 * service then dies of EADDRINUSE. (@herald/testkit's freePort keeps to the same rule for tests.)
 */
function belowEphemeral() {
  let low = 32_768;
  try {
    low =
      Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux
  }
  return low > 10_000 ? 10_000 + Math.floor(Math.random() * (low - 10_000)) : 0;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}
