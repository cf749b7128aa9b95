import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { connectBus, type Bus } from "@herald/bus";
import {
  startNats,
  startPostgres,
  startRecordingServer,
  type NatsFixture,
  type PostgresFixture,
  type RecordingServer,
} from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { sendRaw, type RawAnswer } from "./raw-http.js";

// Every route of the OpenAPI document, reached through every spelling of its path that a router or a
// proxy might read differently, with no token, a wrong token and another app's key: nothing may answer
// 2xx/3xx or change state. With the right token the plain path must work, so the walk can fail.

const ADMIN_TOKEN = "admin-token-for-authz-tests-0123456789";
const SECRET = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
const VICTIM = "victim";
const INTRUDER = "intruder";

let nats: NatsFixture;
let pg: PostgresFixture;
let server: RecordingServer;
let gateway: ServiceProcess;
const services: ServiceProcess[] = [];
let bus: Bus;
let intruderKey: string;
let victimKeyId: string;

interface Route {
  method: string;
  /** As the OpenAPI document spells it: /v1/apps/{appId}. */
  template: string;
  /** Content types of the request body, when it has one. */
  bodyTypes: string[];
}

const endpoint = (id: string) => ({
  id,
  url: `${server.url}/${id}`,
  dialect: "standard",
  secrets: [{ value: SECRET }],
});

/** A body that the route would accept from its owner: a refusal must come from authorization alone. */
function exampleBody(route: Route): string | undefined {
  const key = `${route.method} ${route.template}`;
  const bodies: Record<string, () => unknown> = {
    "PUT /v1/apps/{appId}": () => ({ endpoints: [endpoint("ep1")] }),
    "POST /v1/apps/{appId}/endpoints": () => endpoint("ep2"),
    "PUT /v1/apps/{appId}/endpoints/{endpointId}": () => endpoint("ep1"),
    "PATCH /v1/apps/{appId}/endpoints/{endpointId}": () => ({ timeoutMs: 4000 }),
    "POST /v1/apps/{appId}/endpoints/{endpointId}/disable": () => ({ reason: "authz test" }),
    "POST /v1/apps/{appId}/endpoints/{endpointId}/pause": () => ({
      until: new Date(Date.now() + 3_600_000).toISOString(),
    }),
    "POST /v1/apps/{appId}/endpoints/{endpointId}/rotate-secret": () => ({}),
    "POST /v1/apps/{appId}/endpoints/{endpointId}/test": () => ({}),
    "POST /v1/apps/{appId}/endpoints/{endpointId}/replay": () => ({ since: "2020-01-01T00:00:00Z" }),
    "POST /v1/apps/{appId}/deliveries/replay": () => ({ dryRun: true }),
    "PUT /v1/apps/{appId}/hooks": () => ({ url: `${server.url}/im` }),
    "PUT /v1/apps/{appId}/webhooks.yml": () => `url: ${server.url}/im\n`,
  };
  const make = bodies[key];
  if (route.bodyTypes.length === 0) return undefined;
  if (make === undefined) throw new Error(`no example body for ${key}: add one so the walk covers it`);
  const body = make();
  return typeof body === "string" ? body : JSON.stringify(body);
}

function concretePath(template: string): string {
  const values: Record<string, string> = {
    appId: VICTIM,
    endpointId: "ep1",
    keyId: victimKeyId,
    eventId: "ev1",
    deliveryId: "ev1:ep1",
    userId: "u1",
    roomId: "r1",
  };
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for path parameter ${name}`);
    return encodeURIComponent(value);
  });
}

const hex = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;

/** The same path as routers, proxies and attackers spell it: encoded, double-encoded, cased, dotted... */
export function pathVariants(path: string): string[] {
  const segments = path.split("/").slice(1);
  const join = (parts: string[]) => `/${parts.join("/")}`;
  const variants = new Set<string>([path]);
  segments.forEach((segment, i) => {
    const at = segment.search(/[A-Za-z]/);
    if (at < 0) return;
    const encodeFirst = segment.slice(0, at) + hex(segment[at] ?? "") + segment.slice(at + 1);
    const doubleFirst =
      segment.slice(0, at) + `%25${hex(segment[at] ?? "").slice(1)}` + segment.slice(at + 1);
    const lowerEncoded = encodeFirst.replace(/%([0-9A-F]{2})/, (_, h: string) => `%${h.toLowerCase()}`);
    for (const replacement of [encodeFirst, doubleFirst, lowerEncoded, segment.toUpperCase()]) {
      variants.add(join(segments.map((s, j) => (j === i ? replacement : s))));
    }
  });
  variants.add(path.replace(/[A-Za-z]/g, hex));
  variants.add(path.toUpperCase());
  variants.add(`/x/..${path}`);
  variants.add(`/x/%2e%2e${path}`);
  variants.add(`/v1/./${segments.slice(1).join("/")}`);
  variants.add(`/v1/apps/./${segments.slice(2).join("/")}`);
  variants.add(`${path}/`);
  variants.add(`${path}/.`);
  variants.add(`/${path}`);
  variants.add(path.replace("/v1/", "/v1//"));
  variants.add(path.replace(/\/([^/]*)$/, "//$1"));
  variants.add(`/%2F${path.slice(1)}`);
  variants.add(path.replace("/v1/", "/v1%2F"));
  variants.add(path.replace("/v1/", "/v1%2f"));
  variants.add(path.replace("/v1/", "/v1;/"));
  variants.add(`${path}?via=query`);
  return [...variants];
}

async function openApiRoutes(): Promise<Route[]> {
  const res = await sendRaw(gateway.adminUrl, "GET", "/openapi.json");
  expect(res.status).toBe(200);
  const doc = res.json as {
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>>;
  };
  const routes: Route[] = [];
  for (const [template, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      routes.push({
        method: method.toUpperCase(),
        template,
        bodyTypes: Object.keys(operation.requestBody?.content ?? {}),
      });
    }
  }
  // Deletes last, so the owner's walk still finds what the other routes name.
  return routes.sort((a, b) => Number(a.method === "DELETE") - Number(b.method === "DELETE"));
}

function send(route: Route, target: string, authorization: string | undefined): Promise<RawAnswer> {
  const body = exampleBody(route);
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers["authorization"] = authorization;
  if (body !== undefined) {
    headers["content-type"] = route.bodyTypes.includes("application/json")
      ? "application/json"
      : (route.bodyTypes[0] ?? "application/json");
  }
  return sendRaw(gateway.adminUrl, route.method, target, { headers, body });
}

async function admin(method: string, path: string, body?: unknown): Promise<RawAnswer> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
  if (body === undefined) return sendRaw(gateway.adminUrl, method, path, { headers });
  headers["content-type"] = "application/json";
  return sendRaw(gateway.adminUrl, method, path, { headers, body: JSON.stringify(body) });
}

/** The last sequence of every stream (KV buckets included) of this file's NATS: any write moves one. */
async function busWrites(): Promise<Record<string, number>> {
  const jsm = await bus.jsm();
  const seen: Record<string, number> = {};
  for await (const info of jsm.streams.list()) seen[info.config.name] = info.state.last_seq;
  return seen;
}

async function victimKeyCount(): Promise<number> {
  const kv = await bus.kv(bus.names.buckets.config);
  let count = 0;
  for await (const key of await kv.keys(`appkeys.${VICTIM}.*`)) if (key !== "") count++;
  return count;
}

beforeAll(async () => {
  [nats, pg, server] = await Promise.all([startNats(), startPostgres(), startRecordingServer()]);
  server.fallback({ status: 200 });
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, DELIVERY_ALLOW_LOOPBACK: "true" };
  // One at a time: each gets its own readiness budget on a loaded machine.
  const logstore = await startService("logstore", { ...env, DATABASE_URL: pg.url });
  services.push(logstore);
  await logstore.waitReady();
  gateway = await startService("gateway", { ...env, ADMIN_TOKEN, LOGSTORE_ADDRESS: logstore.grpcAddress });
  services.push(gateway);
  await gateway.waitReady();
  bus = await connectBus({
    servers: nats.url,
    name: "authz-test",
    namespace: nats.namespace,
    log: pino({ level: "silent" }),
  });

  for (const appId of [VICTIM, INTRUDER]) {
    const put = await admin("PUT", `/v1/apps/${appId}`, { endpoints: [endpoint("ep1")] });
    expect(put.status, put.text).toBe(201);
  }
  const victimKey = await admin("POST", `/v1/apps/${VICTIM}/keys`);
  expect(victimKey.status, victimKey.text).toBe(201);
  victimKeyId = (victimKey.json as { id: string }).id;
  const key = await admin("POST", `/v1/apps/${INTRUDER}/keys`);
  expect(key.status, key.text).toBe(201);
  intruderKey = (key.json as { key: string }).key;
}, 120_000);

afterAll(async () => {
  await bus?.drain();
  await stopAll(services);
  await Promise.all([nats?.stop(), pg?.stop(), server?.close()]);
}, 60_000);

describe("authorization on every route of the OpenAPI document", () => {
  it("refuses every spelling of every route without the right credentials, and changes nothing", async () => {
    const routes = await openApiRoutes();
    expect(routes.length).toBeGreaterThan(20);
    const before = await busWrites();
    const keysBefore = await victimKeyCount();
    const credentials: [string, string | undefined][] = [
      ["no token", undefined],
      ["a wrong token", "Bearer wrong-token"],
      ["a wrong admin-like token", `Bearer ${ADMIN_TOKEN}x`],
      ["another app's key", `Bearer ${intruderKey}`],
    ];
    const breaches: string[] = [];
    let sent = 0;
    for (const route of routes) {
      for (const target of pathVariants(concretePath(route.template))) {
        for (const [who, authorization] of credentials) {
          const res = await send(route, target, authorization);
          sent++;
          const allowed = res.status >= 200 && res.status < 400;
          // Listing apps is every key's right; it must show the key's own app only.
          const ownView =
            who === "another app's key" && !route.template.includes("{appId}") && !res.text.includes(VICTIM);
          if (allowed && !ownView) breaches.push(`${route.method} ${target} with ${who}: ${res.status}`);
          if (res.status >= 500) breaches.push(`${route.method} ${target} with ${who}: ${res.status}`);
        }
      }
    }
    expect(sent).toBeGreaterThan(1000);
    expect(breaches).toEqual([]);
    expect(await victimKeyCount()).toBe(keysBefore);
    expect(await busWrites()).toEqual(before);
  }, 300_000);

  it("keeps the panel and the OpenAPI document public", async () => {
    expect((await sendRaw(gateway.adminUrl, "GET", "/openapi.json")).status).toBe(200);
    expect((await sendRaw(gateway.adminUrl, "GET", "/admin/")).status).toBe(200);
    expect((await sendRaw(gateway.adminUrl, "GET", "/admin/api.js")).status).toBe(200);
  });

  it("lets the admin token call the plain path of every route", async () => {
    const routes = await openApiRoutes();
    for (const route of routes) {
      const keysBefore = await victimKeyCount();
      const res = await send(route, concretePath(route.template), `Bearer ${ADMIN_TOKEN}`);
      const what = `${route.method} ${route.template}: ${res.status} ${res.text}`;
      expect([401, 403], what).not.toContain(res.status);
      expect(res.status, what).toBeLessThan(500);
      expect(res.text, what).not.toMatch(/no route/);
      if (route.method === "POST" && route.template.endsWith("/keys")) {
        expect(res.status, what).toBe(201);
        expect(await victimKeyCount()).toBe(keysBefore + 1);
      }
    }
  }, 120_000);
});
