// The business server of the delivery benchmarks: a loopback HTTP server in the bench process that
// answers 200 at once and keeps each delivery id's first arrival, in arrival order.
import { createServer, type Server } from "node:http";
import { performance } from "node:perf_hooks";

export interface BusinessServer {
  url: string;
  /** Resolves once `ids` have all arrived (each first arrival time kept in `arrivals`). */
  expect(ids: readonly string[]): Promise<void>;
  /** First arrival time of each delivery id; a Map keeps insertion order, so this is also arrival order. */
  arrivals: Map<string, number>;
  /** Connections accepted so far, and the most open at once. */
  connections: { accepted: number; peak: number };
  close(): Promise<void>;
}

export async function startBusinessServer(): Promise<BusinessServer> {
  const arrivals = new Map<string, number>();
  let waiting: { ids: Set<string>; done: () => void } | undefined;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = req.headers["herald-delivery-id"];
      if (typeof id === "string" && !arrivals.has(id)) {
        arrivals.set(id, performance.now());
        if (waiting?.ids.delete(id) && waiting.ids.size === 0) waiting.done();
      }
      res.writeHead(200).end();
    });
  });
  const connections = { accepted: 0, peak: 0 };
  let open = 0;
  server.on("connection", (socket) => {
    connections.accepted += 1;
    connections.peak = Math.max(connections.peak, ++open);
    socket.once("close", () => (open -= 1));
  });
  server.keepAliveTimeout = 60_000;
  // 10,000 endpoints each with a connection pool of their own connect to this one server.
  server.maxConnections = Infinity;
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("business server: no address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    arrivals,
    connections,
    expect(ids) {
      const left = new Set(ids.filter((id) => !arrivals.has(id)));
      if (left.size === 0) return Promise.resolve();
      return new Promise((resolve) => (waiting = { ids: left, done: resolve }));
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Whether `promise` settled within `ms`; a bounded wait for a run that may never finish. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
