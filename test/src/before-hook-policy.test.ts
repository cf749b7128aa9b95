import { writeFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Decision, DecisionSource, type HeraldServiceClient } from "@herald/proto";
import { busNames, type AttemptRecord } from "@herald/bus";
import { HERALD_CALLBACK_ERRORS } from "@herald/dialects";
import {
  freePort,
  startNats,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type RecordingServer,
} from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { before, heraldClient } from "./grpc-client.js";
import { storedAttemptRecords } from "./stream-contents.js";

// A before-hook's failure policy through real processes: the gateway reads each app's hook policy from its
// YAML file, the evaluator retries (or not) against a loopback business server, and the chat core gets the
// decision over gRPC. Tests count the calls the business server saw; none measures time.

const CONTINUE = { actionCode: 0, errCode: 0, errMsg: "", errDlt: "", nextCode: "" };
const DENY_5001 = { actionCode: 0, nextCode: 1, errCode: 5001, errMsg: "blocked", errDlt: "spam" };
const TENCENT_OK = { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" };
const WAIT = { timeoutMs: 20_000 };

let nats: NatsFixture;
let nc: NatsConnection;
let gateway: ServiceProcess;
let services: ServiceProcess[] = [];
let client: HeraldServiceClient;
let configFile: string;
let closedPort: number;
const servers: Record<string, RecordingServer> = {};

// Each app has its own business server, so tests cannot see each other's calls.
const APPS = ["fail4xx", "retry4xx", "r429", "r5xx", "budget", "exhaust", "deny", "brk", "tc"] as const;
type AppName = (typeof APPS)[number];

/** An OpenIM app whose beforeSendSingleMsg has the policy given (timeout in seconds, as webhooks.yml says). */
function openim(name: AppName, hook: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    openim: {
      url: `${servers[name]?.url}/cb`,
      urlStyle: "path",
      commandNames: "seed",
      webhooks: { beforeSendSingleMsg: { enable: true, timeout: 5, ...hook } },
    },
    breaker: { failureThreshold: 100, openMs: 1000 },
    ...extra,
  };
}

function config(overrides: Record<string, unknown> = {}) {
  return {
    apps: {
      fail4xx: openim("fail4xx", { maxRetries: 3, retryBackoffMs: 1, failedContinue: true }),
      retry4xx: openim("retry4xx", { maxRetries: 3, retryBackoffMs: 1, on4xx: "retry" }),
      r429: openim("r429", { maxRetries: 2, failedContinue: false }),
      r5xx: openim("r5xx", { maxRetries: 3, retryBackoffMs: 1 }),
      // Backoffs of 200, 400, 800 ms: the third does not fit in a second.
      budget: openim("budget", { timeout: 1, maxRetries: 10, retryBackoffMs: 200, failedAction: "deny" }),
      exhaust: openim("exhaust", { maxRetries: 2, retryBackoffMs: 1, failedContinue: false }),
      deny: openim("deny", { failedAction: "deny", maxRetries: 2, retryBackoffMs: 1 }),
      brk: openim(
        "brk",
        { maxRetries: 3, retryBackoffMs: 1 },
        { breaker: { failureThreshold: 2, openMs: 60_000 } },
      ),
      refused: {
        openim: {
          url: `http://127.0.0.1:${closedPort}/cb`,
          webhooks: {
            beforeSendSingleMsg: {
              enable: true,
              timeout: 5,
              maxRetries: 2,
              retryBackoffMs: 1,
              failedContinue: false,
            },
          },
        },
      },
      tc: {
        tencent: {
          url: `${servers.tc?.url}/im`,
          sdkAppId: 1400000001,
          hooks: {
            "C2C.CallbackBeforeSendMsg": {
              enable: true,
              failedAction: "drop",
              maxRetries: 1,
              retryBackoffMs: 1,
            },
          },
        },
      },
      ...overrides,
    },
  };
}

// YAML is a superset of JSON, so the test writes its config as JSON text.
const writeConfig = (c: object) => writeFile(configFile, JSON.stringify(c, null, 2));

beforeAll(async () => {
  nats = await startNats();
  for (const name of APPS) servers[name] = await startRecordingServer();
  closedPort = await freePort();
  configFile = path.join(await mkdtemp(path.join(tmpdir(), "herald-policy-")), "herald.yaml");
  await writeConfig(config());
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace };
  gateway = await startService("gateway", {
    ...env,
    HERALD_CONFIG: configFile,
    HERALD_CONFIG_POLL_MS: "100",
  });
  // The business servers are on loopback: local development's switch.
  const evaluator = await startService("evaluator", { ...env, DELIVERY_ALLOW_LOOPBACK: "true" });
  services = [gateway, evaluator];
  await Promise.all(services.map((s) => s.waitReady()));
  client = heraldClient(gateway.grpcAddress);
  nc = await connect({ servers: nats.url });
}, 180_000);

afterAll(async () => {
  client?.close();
  await nc?.close();
  await stopAll(services);
  await Promise.all(Object.values(servers).map((s) => s.close()));
  await nats?.stop();
});

beforeEach(() => {
  for (const s of Object.values(servers)) {
    s.clear();
    s.fallback({ status: 200, body: CONTINUE });
  }
  servers.tc?.fallback({ status: 200, body: TENCENT_OK });
});

const single = { sendID: "u1", recvID: "u2", contentType: 101, content: '{"content":"hi"}' };
let n = 0;
/** One Before of `appId`'s beforeSendSingleMsg, with its own operation id. */
function ask(appId: string) {
  n += 1;
  return before(client, {
    appId,
    command: "callbackBeforeSendSingleMsgCommand",
    operationId: `op-policy-${process.pid}-${n}`,
    payload: single,
  });
}

const failedWith = (decision: Decision) => ({
  decision,
  source: DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
});
const fromServer = { source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER };

describe("a 4xx", () => {
  it("is not retried by default: one call, then failedAction", async () => {
    servers.fail4xx!.fallback({ status: 403, body: "forbidden" });
    expect(await ask("fail4xx")).toMatchObject(failedWith(Decision.DECISION_CONTINUE));
    expect(servers.fail4xx!.requests).toHaveLength(1);
  });

  it("is retried when on4xx says retry, and the answer that follows decides", async () => {
    servers.retry4xx!.reply({ status: 404, body: "not yet" }, { status: 400, body: "still not" });
    servers.retry4xx!.fallback({ status: 200, body: DENY_5001 });
    expect(await ask("retry4xx")).toMatchObject({
      ...fromServer,
      decision: Decision.DECISION_DENY,
      errCode: 5001,
    });
    expect(servers.retry4xx!.requests).toHaveLength(3);
  });
});

describe("a 429", () => {
  it("with a Retry-After inside the budget is called again after it, and the answer decides", async () => {
    servers.r429!.reply({ status: 429, headers: { "retry-after": "1" }, body: "slow down" });
    expect(await ask("r429")).toMatchObject({ ...fromServer, decision: Decision.DECISION_CONTINUE });
    expect(servers.r429!.requests).toHaveLength(2);
  });

  it("with a Retry-After beyond the budget fails at once, saying so, and is not called again", async () => {
    servers.r429!.fallback({ status: 429, headers: { "retry-after": "30" }, body: "slow down" });
    const res = await ask("r429");
    expect(res).toMatchObject({
      ...failedWith(Decision.DECISION_DENY),
      errCode: HERALD_CALLBACK_ERRORS.data,
    });
    expect(res.errDlt).toContain("Retry-After 30 s is beyond the hook's budget");
    expect(servers.r429!.requests).toHaveLength(1);
  });

  it("with a Retry-After as an HTTP date in the past is retried at once", async () => {
    servers.r429!.reply({ status: 429, headers: { "retry-after": new Date(0).toUTCString() }, body: "" });
    expect(await ask("r429")).toMatchObject({ ...fromServer, decision: Decision.DECISION_CONTINUE });
    expect(servers.r429!.requests).toHaveLength(2);
  });
});

describe("a 5xx", () => {
  it("then a good answer within the budget: the chat core gets the business server's answer", async () => {
    servers.r5xx!.reply({ status: 500, body: "oops" }, { status: 502, body: "bad gateway" });
    servers.r5xx!.fallback({ status: 200, body: DENY_5001 });
    expect(await ask("r5xx")).toMatchObject({
      ...fromServer,
      decision: Decision.DECISION_DENY,
      errCode: 5001,
      errMsg: "blocked",
      errDlt: "spam",
    });
    expect(servers.r5xx!.requests).toHaveLength(3);
  });

  it("every time, until the budget is out: failedAction, having called at most maxRetries + 1 times", async () => {
    servers.budget!.fallback({ status: 503, body: "down" });
    const res = await ask("budget");
    expect(res).toMatchObject({
      ...failedWith(Decision.DECISION_DENY),
      errCode: HERALD_CALLBACK_ERRORS.data,
    });
    expect(res.errDlt).toContain("beyond the hook's budget");
    expect(servers.budget!.requests.length).toBeLessThanOrEqual(11);
  });

  it("every time, until the retries are out: failedAction after exactly maxRetries + 1 calls", async () => {
    servers.exhaust!.fallback({ status: 500, body: "down" });
    const res = await ask("exhaust");
    expect(res).toMatchObject({
      ...failedWith(Decision.DECISION_DENY),
      errCode: HERALD_CALLBACK_ERRORS.data,
    });
    expect(res.errDlt).toContain("gave up after 3 calls");
    expect(servers.exhaust!.requests).toHaveLength(3);
  });

  it("logs every call: each retried one as 'retry', the last with the decision", async () => {
    servers.r5xx!.reply({ status: 500, body: "oops" }, { status: 503, body: "busy" });
    const operationId = `op-policy-logged-${process.pid}`;
    await before(client, { appId: "r5xx", command: "beforeSendSingleMsg", operationId, payload: single });
    const records = await attemptsOf(operationId, 3);
    expect(records.map((r) => [r.status, r.outcome])).toEqual([
      [500, "retry"],
      [503, "retry"],
      [200, "continue"],
    ]);
    expect(records[0]?.error).toMatch(/^status: HTTP 500: oops; retrying in \d+ ms$/);
  });

  it("counts once per Before against the breaker, however many calls it made", async () => {
    servers.brk!.fallback({ status: 500, body: "down" });
    expect(await ask("brk")).toMatchObject(failedWith(Decision.DECISION_CONTINUE));
    expect(servers.brk!.requests).toHaveLength(4);
    // One failure so far (threshold 2): the next Before still calls, and its failure opens the breaker.
    expect(await ask("brk")).toMatchObject(failedWith(Decision.DECISION_CONTINUE));
    expect(servers.brk!.requests).toHaveLength(8);
    expect(await ask("brk")).toMatchObject({ source: DecisionSource.DECISION_SOURCE_BREAKER_OPEN });
    expect(servers.brk!.requests).toHaveLength(8);
  });
});

describe("never retried, whatever the retries left", () => {
  it("a timeout, which used up the budget", async () => {
    servers.budget!.fallback({ hang: true });
    const res = await ask("budget");
    expect(res).toMatchObject({
      ...failedWith(Decision.DECISION_DENY),
      errCode: HERALD_CALLBACK_ERRORS.network,
    });
    expect(res.errMsg).toBe("callback failed: timeout");
    expect(servers.budget!.requests).toHaveLength(1);
  });

  it("an answer Herald cannot read, or one saying actionCode != 0", async () => {
    // "deny" has retries left and a 5 s timeout: an answer is never taken for a timeout on a loaded machine.
    servers.deny!.reply(
      { status: 200, body: "<html>oops</html>" },
      { status: 200, body: { ...CONTINUE, actionCode: 1 } },
    );
    for (const reason of ["body", "action"]) {
      const res = await ask("deny");
      expect(res).toMatchObject({
        ...failedWith(Decision.DECISION_DENY),
        errMsg: `callback failed: ${reason}`,
      });
    }
    expect(servers.deny!.requests).toHaveLength(2);
  });
});

describe("a refused connection", () => {
  it("is retried as a 5xx, then denied with Herald's network code", async () => {
    const res = await ask("refused");
    expect(res).toMatchObject({
      ...failedWith(Decision.DECISION_DENY),
      errCode: HERALD_CALLBACK_ERRORS.network,
    });
    expect(res.errDlt).toBe("connection refused; gave up after 3 calls");
  });
});

describe("failedAction", () => {
  it("deny: the chat core gets Herald's error code", async () => {
    servers.deny!.fallback({ status: 500, body: "down" });
    expect(await ask("deny")).toMatchObject({
      ...failedWith(Decision.DECISION_DENY),
      errCode: HERALD_CALLBACK_ERRORS.data,
      errMsg: "callback failed: status",
    });
    expect(servers.deny!.requests).toHaveLength(3);
  });

  it("drop, where the dialect has it (Tencent): DECISION_DROP after the retries", async () => {
    servers.tc!.fallback({ status: 500, body: "down" });
    const res = await before(client, {
      appId: "tc",
      command: "C2C.CallbackBeforeSendMsg",
      payload: { From_Account: "u1", To_Account: "u2", MsgBody: [] },
    });
    expect(res).toMatchObject(failedWith(Decision.DECISION_DROP));
    expect(servers.tc!.requests).toHaveLength(2);
  });

  it("drop, where the dialect has none (OpenIM): the file is refused at load, naming the field", async () => {
    const from = gateway.lines.length;
    await writeConfig(config({ nodrop: openim("fail4xx", { failedAction: "drop" }) }));
    const refused = await waitFor(
      () =>
        gateway.lines
          .slice(from)
          .find((line) => line.includes("not applied") && line.includes("failedAction")),
      { ...WAIT, what: "the gateway to refuse failedAction: drop" },
    );
    expect(refused).toContain("apps.nodrop.openim.webhooks.beforeSendSingleMsg.failedAction");
    expect(refused).toContain("no silent drop");
    await writeConfig(config());
  });
});

/** The attempt records of one operation, oldest first, once there are `count` of them. */
async function attemptsOf(operationId: string, count: number): Promise<AttemptRecord[]> {
  const stream = busNames(nats.namespace).streams.attempts;
  return waitFor(
    async () => {
      const records = await storedAttemptRecords(nc, stream);
      const mine = records.filter((r) => r.operationId === operationId);
      return mine.length >= count ? mine : undefined;
    },
    { ...WAIT, what: `${count} attempt records of ${operationId}` },
  );
}
