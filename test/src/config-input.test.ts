/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment,
   @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return
   -- the API's JSON answers are read by path; the assertions check their shape. */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_URL_BYTES } from "@herald/config";
import { startNats, waitFor, type NatsFixture } from "@herald/testkit";
import { adminCaller, expectAdminError as expectError } from "./admin-client.js";
import { startService, stopAll, type ServiceProcess } from "./harness.js";

// The gateway's config inputs: Herald's YAML applied at start and on change, the admin API's imports,
// and who wins when both change an app.

const ADMIN_TOKEN = "admin-token-for-config-tests-0123";
const SECRET_LINE = "root:$6$salt$c2VjcmV0aGFzaA:19000:0:99999:7:::";

let nats: NatsFixture;
let gateway: ServiceProcess;
let dir: string;
let configFile: string;

const call = adminCaller(() => gateway.adminUrl, ADMIN_TOKEN);

/** Herald's YAML with the apps given, each a block of YAML under its id. */
function herald(apps: Record<string, string>): string {
  const blocks = Object.entries(apps).map(
    ([id, block]) => `  ${id}:\n${block.replace(/^/gm, "    ").replace(/ +$/gm, "")}`,
  );
  return `apps:\n${blocks.join("\n")}\n`;
}

const mqtt = (timeoutMs: number) =>
  `endpoints:\n  e1:\n    url: http://127.0.0.1:9/hook\n    dialect: mqttchat\n    timeoutMs: ${timeoutMs}\n`;

let generation = 0;

/** Writes the config file with a fresh marker app and waits until the gateway has applied it. */
async function applyFile(apps: Record<string, string>): Promise<void> {
  generation += 1;
  const marker = `marker${generation}`;
  await writeFile(configFile, herald({ ...apps, [marker]: mqtt(1000) }));
  await waitFor(async () => (await call("GET", `/v1/apps/${marker}`)).status === 200, {
    timeoutMs: 20_000,
    what: `the config file with ${marker} to be applied`,
  });
}

beforeAll(async () => {
  nats = await startNats();
  dir = await mkdtemp(path.join(tmpdir(), "herald-config-input-"));
  configFile = path.join(dir, "herald.yaml");
  await writeFile(configFile, herald({ owned: mqtt(1000) }));
  await writeFile(path.join(path.dirname(dir), `${path.basename(dir)}-secret`), `${SECRET_LINE}\n`);
  gateway = await startService("gateway", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    ADMIN_TOKEN,
    DELIVERY_ALLOW_LOOPBACK: "true",
    HERALD_CONFIG: configFile,
    HERALD_CONFIG_POLL_MS: "100",
  });
  await gateway.waitReady();
}, 120_000);

afterAll(async () => {
  await stopAll(gateway === undefined ? [] : [gateway]);
  await nats?.stop();
}, 60_000);

describe("admin API input", () => {
  // Each level multiplies by 9: 9^9 strings once expanded.
  const aliasBomb = [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ..."bcdefghi"
      .split("")
      .map((name, i) => `${name}: &${name} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(",")}]`),
  ].join("\n");

  it("answers 400 naming the problem, not 500, to an alias bomb imported as webhooks.yml", async () => {
    const res = await call("PUT", "/v1/apps/owned/webhooks.yml", { yaml: `${aliasBomb}\n` });
    expectError(res, 400, "body");
    expect(res.body.error.message).toMatch(/alias/);
  });

  it("refuses a webhooks.yml that is not UTF-8 or holds a NUL, instead of replacing the bytes", async () => {
    const bad = Buffer.concat([Buffer.from("url: http://127.0.0.1:9/cb\n# "), Buffer.from([0xff, 0x0a])]);
    const res = await call("PUT", "/v1/apps/owned/webhooks.yml", { yaml: bad });
    expectError(res, 400, "body");
    expect(res.body.error.message).toContain("not valid UTF-8");
    const nul = await call("PUT", "/v1/apps/owned/webhooks.yml", {
      yaml: "url: http://127.0.0.1:9/c\u0000b\n",
    });
    expectError(nul, 400, "body");
  });

  it("refuses URLs over the limit, naming the field", async () => {
    const url = `http://127.0.0.1:9/${"x".repeat(MAX_URL_BYTES)}`;
    const app = await call("PUT", "/v1/apps/longurl", { body: { openim: { url } } });
    expectError(app, 400, "openim.url");
    expect(app.body.error.message).toContain(`at most ${MAX_URL_BYTES} bytes`);
    const endpoint = await call("POST", "/v1/apps/owned/endpoints", {
      body: { id: "long", url, dialect: "mqttchat" },
    });
    expectError(endpoint, 400, "url");
    const yaml = await call("PUT", "/v1/apps/owned/webhooks.yml", { yaml: `url: ${url}\n` });
    expectError(yaml, 400, "url");
  });

  it("refuses ids that cannot be subject tokens, saying why", async () => {
    for (const id of ["a.b", encodeURIComponent("李四")]) {
      const res = await call("GET", `/v1/apps/${id}`);
      expectError(res, 400, "appId");
      expect(res.body.error.message).toContain("NATS subject");
    }
  });
});

describe("a before-hook's policy through the admin API", () => {
  const policy = {
    maxRetries: 3,
    retryBackoffMs: 100,
    on4xx: "retry",
    on429: "fail",
    on5xx: "retry",
    failedAction: "deny",
  };
  const openim = (hook: Record<string, unknown>) => ({
    openim: { url: "http://127.0.0.1:9/cb", hooks: { beforeSendSingleMsg: { enable: true, ...hook } } },
  });
  const tencent = (hook: Record<string, unknown>) => ({
    tencent: {
      url: "http://127.0.0.1:9/im",
      sdkAppId: 1400000001,
      hooks: { "C2C.CallbackBeforeSendMsg": { enable: true, ...hook } },
    },
  });
  const refused = async (body: object, field: string, message: string) => {
    const res = await call("PUT", "/v1/apps/policy", { body });
    expectError(res, 400, field);
    expect(res.body.error.message).toContain(message);
  };

  it("takes the fields on an app's openim hooks and gives them back, failedAction as failedContinue", async () => {
    const put = await call("PUT", "/v1/apps/policy", { body: openim(policy) });
    expect(put.status, put.text).toBe(201);
    const { failedAction: _, ...stored } = policy;
    const expected = { ...stored, failedContinue: false, timeout: 5 };
    expect(put.body.openim.hooks.beforeSendSingleMsg).toMatchObject(expected);
    expect((await call("GET", "/v1/apps/policy")).body.openim.hooks.beforeSendSingleMsg).toMatchObject(
      expected,
    );
    const yaml = (await call("GET", "/v1/apps/policy/webhooks.yml")).text;
    expect(yaml).toMatch(/maxRetries: 3\n/);
    expect(yaml).toMatch(/on4xx: retry\n/);
  });

  it("takes failedAction drop on a Tencent hook and gives it back", async () => {
    const put = await call("PUT", "/v1/apps/policy", { body: tencent({ ...policy, failedAction: "drop" }) });
    expect(put.status, put.text).toBe(200);
    expect(put.body.tencent.hooks["C2C.CallbackBeforeSendMsg"]).toMatchObject({
      ...policy,
      failedAction: "drop",
    });
  });

  it("refuses bad values, naming the field", async () => {
    const site = "openim.hooks.beforeSendSingleMsg";
    await refused(openim({ maxRetries: 99 }), `${site}.maxRetries`, "0 to 10");
    await refused(openim({ on429: "maybe" }), `${site}.on429`, 'expected "retry" or "fail"');
    await refused(
      openim({ failedAction: "continue", failedContinue: false }),
      `${site}.failedAction`,
      "disagrees",
    );
    await refused(openim({ failedAction: "drop" }), `${site}.failedAction`, "no silent drop");
    const tc = "tencent.hooks.C2C.CallbackBeforeSendMsg";
    await refused(tencent({ retryBackoffMs: 0 }), `${tc}.retryBackoffMs`, "1 to 10000");
    await refused(tencent({ failedAction: "drop", failedContinue: true }), `${tc}.failedAction`, "disagrees");
  });
});

describe("the config file", () => {
  it("refuses a webhooksFile outside its directory, keeps the running config and never logs the file", async () => {
    const from = gateway.lines.length;
    await writeFile(
      configFile,
      herald({ owned: mqtt(1000), escape: `openim:\n  webhooksFile: ../${path.basename(dir)}-secret\n` }),
    );
    // The gateway may catch the file half-written and refuse that first: wait for the refusal of the whole file.
    const refused = await waitFor(
      () =>
        gateway.lines
          .slice(from)
          .find((line) => line.includes("config file not applied") && line.includes("webhooksFile")),
      { timeoutMs: 20_000, what: "the gateway to refuse the file" },
    );
    expect(refused).toContain("apps.escape.openim.webhooksFile");
    expect(refused).toContain("outside");
    expect(gateway.lines.join("\n")).not.toMatch(/c2VjcmV0aGFzaA|root:\$6/);
    expectError(await call("GET", "/v1/apps/escape"), 404);
  });

  it("warns about unknown keys by path, without their values", async () => {
    const from = gateway.lines.length;
    await applyFile({ owned: `colour: value-that-is-secret-42\n${mqtt(1000)}` });
    const warning = gateway.lines.slice(from).find((line) => line.includes("apps.owned.colour"));
    expect(warning).toBeDefined();
    expect(gateway.lines.join("\n")).not.toContain("value-that-is-secret-42");
  });
});

describe("admin edits and file reloads", () => {
  const timeoutOf = async (appId: string) =>
    (await call("GET", `/v1/apps/${appId}`)).body.endpoints[0].timeoutMs;

  it("keeps an admin edit over later file changes, shows that the file differs, and hands back on request", async () => {
    await applyFile({ owned: mqtt(1000) });
    const fromFile = await call("GET", "/v1/apps/owned");
    expect(fromFile.body.source).toBe("file");
    expect(fromFile.body.file).toEqual({ differs: false });

    const edited = await call("PATCH", "/v1/apps/owned/endpoints/e1", { body: { timeoutMs: 2222 } });
    expect(edited.status, edited.text).toBe(200);
    const from = gateway.lines.length;
    await applyFile({ owned: mqtt(3333) });

    expect(await timeoutOf("owned")).toBe(2222);
    const shown = await call("GET", "/v1/apps/owned");
    expect(shown.body.source).toBe("api");
    expect(shown.body.file).toEqual({ differs: true });
    const listed = (await call("GET", "/v1/apps")).body.apps.find(
      (a: { appId: string }) => a.appId === "owned",
    );
    expect(listed).toMatchObject({ source: "api", file: { differs: true } });
    const warning = gateway.lines
      .slice(from)
      .find((line) => line.includes("not applied") && line.includes("owned"));
    expect(warning, "a warning naming the app").toBeDefined();

    const handedBack = await call("POST", "/v1/apps/owned/return-to-file");
    expect(handedBack.status, handedBack.text).toBe(200);
    expect(handedBack.body).toMatchObject({ source: "file", file: { differs: false } });
    expect(await timeoutOf("owned")).toBe(3333);

    // Owned by the file again, so its next change applies.
    await applyFile({ owned: mqtt(4444) });
    expect(await timeoutOf("owned")).toBe(4444);
  });

  it("hands back only apps the file declares, for the admin token only, as the OpenAPI document says", async () => {
    expect((await call("PUT", "/v1/apps/apionly", { body: { endpoints: [] } })).status).toBe(201);
    expectError(await call("POST", "/v1/apps/apionly/return-to-file"), 404, "appId");
    expect((await call("GET", "/v1/apps/apionly")).body.file).toBeUndefined();
    const key = (await call("POST", "/v1/apps/owned/keys")).body.key as string;
    expectError(await call("POST", "/v1/apps/owned/return-to-file", { token: key }), 403);
    const doc = (await fetch(`${gateway.adminUrl}/openapi.json`).then((res) => res.json())) as {
      paths: Record<string, { post?: unknown } | undefined>;
    };
    expect(doc.paths["/v1/apps/{appId}/return-to-file"]?.post).toBeDefined();
  });

  it("refuses to delete an app the file declares, which the file would bring back", async () => {
    expectError(await call("DELETE", "/v1/apps/owned"), 409);
    expect((await call("GET", "/v1/apps/owned")).status).toBe(200);
    expect((await call("DELETE", "/v1/apps/apionly")).status).toBe(204);
  });
});
