import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { Event, type HeraldServiceClient } from "@herald/proto";
import { applyTopology, connectBus, publishAttemptDurably, storeEvent, type Bus } from "@herald/bus";
import { putApp, type AppConfig } from "@herald/config";
import {
  startNats,
  startPostgres,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type PostgresFixture,
  type RecordingServer,
} from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { heraldClient, publish } from "./grpc-client.js";
import { messageEvent, waitForConfig } from "./delivery-fixture.js";

// Debian's Chromium, installed by .ci/run; playwright-core drives it and downloads nothing.
const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const ADMIN_TOKEN = "admin-panel-test-token";
const APP_ID = "panel";
const ENDPOINT_ID = "biz";
const MARKUP = "<img src=x onerror=document.body.dataset.pwned=1>";
const SECRET = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
// An app the gateway's config file declares, for the file-versus-panel ownership test.
const FILE_APP = "fromfile";

let nats: NatsFixture;
let postgres: PostgresFixture;
let services: ServiceProcess[] = [];
let gateway: ServiceProcess;
let server: RecordingServer;
let bus: Bus;
let nc: NatsConnection;
let client: HeraldServiceClient;
let browser: Browser;

/**
 * A new page on the panel of app `appId`, signed in with the admin token (each page is its own
 * browser context with its own localStorage, so the token goes in again), with its script errors.
 */
async function openPanel(appId: string): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));
  await page.goto(`${gateway.adminUrl}/admin/#app=${appId}`);
  await page.getByTestId("token-input").fill(ADMIN_TOKEN);
  await page.getByTestId("token-save").click();
  return { page, pageErrors };
}

describe.skipIf(!hasChromium)(
  `admin panel in a browser${hasChromium ? "" : ` (skipped: ${CHROMIUM} is missing; .ci/run installs it)`}`,
  () => {
    beforeAll(async () => {
      nats = await startNats();
      postgres = await startPostgres();
      const base = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace };
      const logstore = await startService("logstore", { ...base, DATABASE_URL: postgres.url });
      const configFile = path.join(await mkdtemp(path.join(tmpdir(), "herald-panel-")), "herald.yaml");
      // YAML is a superset of JSON, so the test writes its config as JSON text.
      await writeFile(
        configFile,
        JSON.stringify({
          apps: {
            [FILE_APP]: {
              endpoints: { audit: { url: "http://127.0.0.1:9/audit", dialect: "mqttchat" } },
              // Per-app timings, as a duration and as milliseconds; the rest are the services' defaults.
              presence: { graceMs: "30s" },
              chatroom: { kickAfterMs: 90_000, idleDestroyMs: 0 },
            },
          },
        }),
      );
      gateway = await startService("gateway", {
        ...base,
        HERALD_CONFIG: configFile,
        ADMIN_TOKEN,
        LOGSTORE_ADDRESS: logstore.grpcAddress,
        DELIVERY_ALLOW_LOOPBACK: "true",
      });
      const deliverer = await startService("deliverer", { ...base, DELIVERY_ALLOW_LOOPBACK: "true" });
      services = [logstore, gateway, deliverer];
      await Promise.all(services.map((s) => s.waitReady()));

      server = await startRecordingServer();
      // Markup in a business server's answer must show as text, never run.
      server.fallback({ status: 500, body: { error: `business server down ${MARKUP}` } });
      bus = await connectBus({
        servers: nats.url,
        name: "test-operator",
        namespace: nats.namespace,
        log: pino({ level: "silent" }),
      });
      nc = await connect({ servers: nats.url });
      client = heraldClient(gateway.grpcAddress);
      const revision = await putApp(bus, {
        appId: APP_ID,
        endpoints: [
          {
            id: ENDPOINT_ID,
            url: `${server.url}/hook`,
            dialect: "standard",
            secrets: [{ value: SECRET }],
            // No retries: the first failure is dead, so the panel offers a replay.
            retry: { scheduleMs: [], jitter: 0 },
          },
        ],
      } as unknown as AppConfig);
      await waitForConfig([deliverer], revision);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      client?.close();
      await nc?.close();
      await bus?.drain().catch(() => undefined);
      await stopAll(services);
      await server?.close();
      await postgres?.stop();
      await nats?.stop();
    });

    it("shows a dead delivery, replays it and shows it delivered", async () => {
      const event = messageEvent(APP_ID);
      const deliveryId = `${event.id}:${ENDPOINT_ID}`;
      await publish(client, [event]);
      await server.waitForRequests(1, { timeoutMs: 10_000 });

      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (err) => pageErrors.push(err.message));
      await page.goto(`${gateway.adminUrl}/admin/`);
      await page.getByTestId("token-input").fill(ADMIN_TOKEN);
      await page.getByTestId("token-save").click();
      await page.locator(`[data-testid="app-item"][data-app-id="${APP_ID}"]`).click();

      const row = (outcome: string) =>
        page.locator(
          `[data-testid="delivery-row"][data-delivery-id="${deliveryId}"][data-outcome="${outcome}"]`,
        );
      await waitForRow(page, row("dead"), "the dead delivery in the panel");
      const dead = row("dead").first();
      await expect(dead.locator("td").nth(6).textContent()).resolves.toBe("500");

      // Opening the row shows what was sent and what came back.
      await dead.click();
      const detail = page.locator(`[data-testid="delivery-detail"][data-delivery-id="${deliveryId}"]`);
      await expect(detail.getByTestId("response-body").textContent()).resolves.toContain(
        `business server down ${MARKUP}`,
      );
      expect(await detail.locator("img").count()).toBe(0);
      await expect(detail.getByTestId("request-body").textContent()).resolves.toContain("msg.sent");

      server.fallback({ status: 200, body: { ok: true } });
      // A replay asks first, next to the row, and answers there.
      await detail.getByTestId("replay-button").click();
      await detail.getByTestId("replay-confirm").click();
      await expect(detail.getByTestId("row-toast").textContent()).resolves.toContain(
        `Replay of ${deliveryId}`,
      );
      await waitForRow(page, row("delivered"), "the replayed delivery delivered in the panel");
      // One row still, now with both attempts.
      await expect(
        page.locator(`[data-testid="delivery-row"][data-delivery-id="${deliveryId}"]`).count(),
      ).resolves.toBe(1);
      await expect(row("delivered").getAttribute("data-attempts")).resolves.toBe("2");

      const replayed = server.requests.filter((r) => r.headers["herald-delivery-id"] === deliveryId);
      expect(replayed.length).toBe(2);
      expect(await page.getByTestId("error").count()).toBe(0);
      expect(await page.locator("body[data-pwned]").count()).toBe(0);
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 90_000);

    it("replays every dead delivery of an endpoint since a time", async () => {
      server.fallback({ status: 503, body: "down for a moment" });
      const events = [messageEvent(APP_ID), messageEvent(APP_ID)];
      await publish(client, events);
      const ids = events.map((e) => `${e.id}:${ENDPOINT_ID}`);
      const { page } = await openPanel(APP_ID);
      const row = (id: string, outcome: string) =>
        page.locator(`[data-testid="delivery-row"][data-delivery-id="${id}"][data-outcome="${outcome}"]`);
      for (const id of ids) await waitForRow(page, row(id, "dead"), `the dead delivery ${id}`);

      server.fallback({ status: 200, body: { ok: true } });
      const endpoint = page.locator(`[data-testid="endpoint-row"][data-endpoint-id="${ENDPOINT_ID}"]`);
      await endpoint.getByTestId("replay-dead-button").click();
      await endpoint.getByTestId("replay-dead-confirm").click();
      await expect(page.getByTestId("notice").first().textContent()).resolves.toMatch(/dead deliveries of/);
      for (const id of ids) await waitForRow(page, row(id, "delivered"), `${id} delivered after the replay`);
      expect(await page.getByTestId("error").count()).toBe(0);
      await page.close();
    }, 90_000);

    it("disables an endpoint with a reason and re-enables it", async () => {
      const { page } = await openPanel(APP_ID);
      const endpoint = page.locator(`[data-testid="endpoint-row"][data-endpoint-id="${ENDPOINT_ID}"]`);
      await expect(endpoint.getByTestId("endpoint-state").textContent()).resolves.toBe("active");

      await endpoint.getByTestId("disable-button").click();
      await endpoint.getByTestId("disable-reason").fill("maintenance window");
      await endpoint.getByTestId("disable-confirm").click();
      const disabled = page.locator(
        `[data-testid="endpoint-row"][data-endpoint-id="${ENDPOINT_ID}"][data-state="disabled"]`,
      );
      await disabled.waitFor({ timeout: 10_000 });
      await expect(disabled.getByTestId("endpoint-reason").textContent()).resolves.toContain(
        "maintenance window",
      );

      await disabled.getByTestId("enable-button").click();
      await page
        .locator(`[data-testid="endpoint-row"][data-endpoint-id="${ENDPOINT_ID}"][data-state="active"]`)
        .waitFor({ timeout: 10_000 });
      expect(await page.getByTestId("error").count()).toBe(0);
      await page.close();
    }, 60_000);

    it("adds, refuses, edits and deletes an endpoint, and imports webhooks.yml", async () => {
      const { page, pageErrors } = await openPanel(APP_ID);
      const form = page.getByTestId("endpoint-form");
      const rowOf = (id: string) => page.locator(`[data-testid="endpoint-row"][data-endpoint-id="${id}"]`);
      await rowOf(ENDPOINT_ID).waitFor({ timeout: 10_000 });

      // Add: the dialect select swaps the template; the JSON typed in is what is sent.
      await page.getByTestId("endpoint-add").click();
      await form.getByTestId("endpoint-form-dialect").selectOption("rongcloud");
      await expect(form.getByTestId("endpoint-form-json").inputValue()).resolves.toContain("appSecret");
      await form.getByTestId("endpoint-form-dialect").selectOption("standard");
      await expect(form.getByTestId("endpoint-form-json").inputValue()).resolves.toContain("whsec_");
      const second = {
        id: "second",
        url: `${server.url}/second`,
        dialect: "standard",
        secrets: [{ value: SECRET }],
      };
      await form.getByTestId("endpoint-form-json").fill(JSON.stringify(second));
      await form.getByTestId("endpoint-form-save").click();
      await rowOf("second").waitFor({ timeout: 10_000 });
      expect(await form.count()).toBe(0);

      // A refused endpoint: the message and the field, next to the form, which stays open.
      await page.getByTestId("endpoint-add").click();
      await form
        .getByTestId("endpoint-form-json")
        .fill(JSON.stringify({ id: "bad", url: "ftp://x", dialect: "mqttchat" }));
      await form.getByTestId("endpoint-form-save").click();
      const field = form.getByTestId("endpoint-form-error-field");
      await field.waitFor({ timeout: 10_000 });
      await expect(field.textContent()).resolves.toBe("url");
      await expect(form.getByTestId("endpoint-form-error").textContent()).resolves.toContain("400");
      await form.getByTestId("endpoint-form-cancel").click();
      expect(await rowOf("bad").count()).toBe(0);

      // Edit: the endpoint's JSON as listed (its secret redacted), one field changed, saved.
      await rowOf("second").getByTestId("edit-button").click();
      const shown = JSON.parse(await form.getByTestId("endpoint-form-json").inputValue()) as Record<
        string,
        unknown
      >;
      expect(shown["state"]).toBeUndefined();
      expect(JSON.stringify(shown["secrets"])).not.toContain(SECRET);
      await form.getByTestId("endpoint-form-json").fill(JSON.stringify({ ...shown, timeoutMs: 7_000 }));
      await form.getByTestId("endpoint-form-save").click();
      await form.waitFor({ state: "detached", timeout: 10_000 });
      const saved = await adminGet(`/v1/apps/${APP_ID}/endpoints/second`);
      expect(saved.status).toBe(200);
      expect(saved.body).toMatchObject({ id: "second", timeoutMs: 7_000, secrets: shown["secrets"] });

      // Delete, after a confirm.
      await rowOf("second").getByTestId("delete-button").click();
      await rowOf("second").getByTestId("delete-confirm").click();
      await rowOf("second").waitFor({ state: "detached", timeout: 10_000 });
      expect((await adminGet(`/v1/apps/${APP_ID}/endpoints/second`)).status).toBe(404);

      // Import OpenIM's webhooks.yml: the hook table shows it, with the file's warnings.
      await page.getByTestId("hooks-none").waitFor({ timeout: 10_000 });
      await page.getByTestId("hooks-import").click();
      await page
        .getByTestId("webhooks-yml-input")
        .fill("url: http://127.0.0.1:9/x\nbeforeSendSingleMsg:\n  enable: true\n  timeout: 3\nnotAHook: 1\n");
      await page.getByTestId("webhooks-yml-import").click();
      const hook = page.locator('[data-testid="hook-row"][data-hook="beforeSendSingleMsg"]');
      await hook.waitFor({ timeout: 10_000 });
      await expect(hook.locator("td").nth(1).textContent()).resolves.toBe("yes");
      await expect(hook.locator("td").nth(2).textContent()).resolves.toBe("3 s");
      await expect(page.getByTestId("import-warning").first().textContent()).resolves.toContain("notAHook");
      expect(await page.getByTestId("webhooks-yml-input").count()).toBe(0);

      // A new app key, shown once, that sees only this app.
      await page.getByTestId("key-new").click();
      const key = (await page.getByTestId("new-app-key").textContent()) ?? "";
      expect(key).toMatch(new RegExp(`^hak_${APP_ID}_`));
      const apps = await fetch(`${gateway.adminUrl}/v1/apps`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(((await apps.json()) as { apps: Array<{ appId: string }> }).apps.map((a) => a.appId)).toEqual([
        APP_ID,
      ]);

      expect(await page.getByTestId("error").count()).toBe(0);
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 90_000);

    it("shows the key an attempt kept the order of and its wait, and sets an endpoint's ordering", async () => {
      const orderingKey = "user:用户😀";
      const deliveryId = `ordered-1:${ENDPOINT_ID}`;
      const record = {
        kind: "delivery" as const,
        appId: APP_ID,
        endpointId: ENDPOINT_ID,
        attempt: 1,
        eventType: "user.online",
        dialect: "standard",
        trigger: "event",
        operationId: "op-ordered",
        url: `${server.url}/hook`,
        requestBody: "{}",
        status: 200,
        responseBody: "ok",
        latencyMs: 3,
        outcome: "delivered",
        error: "",
      };
      // As the deliverer records a callback that waited for an earlier one of the same user, and
      // a replay, which keeps no order.
      await publishAttemptDurably(bus, {
        ...record,
        eventId: "ordered-1",
        deliveryId,
        orderingKey,
        keyWaitMs: 250,
      });
      await publishAttemptDurably(bus, {
        ...record,
        eventId: "unordered-1",
        deliveryId: `unordered-1:${ENDPOINT_ID}`,
        trigger: "replay",
      });
      const { page, pageErrors } = await openPanel(APP_ID);

      // A delivery's attempts show when it opens, each with the key it kept the order of.
      const row = page.locator(`[data-testid="delivery-row"][data-delivery-id="${deliveryId}"]`);
      await waitForRow(page, row, "the ordered attempt in the panel");
      await row.click();
      const detail = page.locator(`[data-testid="delivery-detail"][data-delivery-id="${deliveryId}"]`);
      await expect(detail.getByTestId("delivery-ordering-key").textContent()).resolves.toBe(orderingKey);
      await expect(detail.getByTestId("delivery-key-wait").textContent()).resolves.toBe(
        "waited 250 ms for its key",
      );
      // An attempt that kept no order shows neither.
      const unorderedId = `unordered-1:${ENDPOINT_ID}`;
      const unordered = page.locator(`[data-testid="delivery-row"][data-delivery-id="${unorderedId}"]`);
      await waitForRow(page, unordered, "the unordered attempt in the panel");
      await unordered.click();
      const unorderedDetail = page.locator(
        `[data-testid="delivery-detail"][data-delivery-id="${unorderedId}"]`,
      );
      await unorderedDetail.getByTestId("attempt-item").waitFor({ timeout: 10_000 });
      expect(await unorderedDetail.getByTestId("delivery-ordering-key").count()).toBe(0);
      expect(await unorderedDetail.getByTestId("delivery-key-wait").count()).toBe(0);

      // The endpoint list: standard's default, none.
      const endpoint = () => page.locator(`[data-testid="endpoint-row"][data-endpoint-id="${ENDPOINT_ID}"]`);
      const ordering = (value: string) =>
        page.locator(
          `[data-testid="endpoint-row"][data-endpoint-id="${ENDPOINT_ID}"] [data-testid="endpoint-ordering"][data-ordering="${value}"]`,
        );
      await ordering("none").waitFor({ timeout: 10_000 });
      await expect(endpoint().getByTestId("endpoint-ordering-default").textContent()).resolves.toBe(
        "dialect default",
      );

      // Edit: the form's ordering control shows the endpoint's, with the dialect's default beside it.
      const form = page.getByTestId("endpoint-form");
      await endpoint().getByTestId("edit-button").click();
      const select = form.getByTestId("endpoint-form-ordering");
      await expect(select.inputValue()).resolves.toBe("none");
      await expect(form.getByTestId("endpoint-form-ordering-default").textContent()).resolves.toBe(
        "standard default: none",
      );
      await select.selectOption("key");
      const json = () =>
        form
          .getByTestId("endpoint-form-json")
          .inputValue()
          .then((text) => JSON.parse(text) as Record<string, unknown>);
      await expect(json()).resolves.toMatchObject({ ordering: "key" });
      await form.getByTestId("endpoint-form-save").click();
      await form.waitFor({ state: "detached", timeout: 10_000 });
      await ordering("key").waitFor({ timeout: 10_000 });
      await expect(endpoint().getByTestId("endpoint-ordering-default").textContent()).resolves.toBe(
        "standard default: none",
      );
      expect((await adminGet(`/v1/apps/${APP_ID}/endpoints/${ENDPOINT_ID}`)).body).toMatchObject({
        ordering: "key",
      });

      // Typing it in the JSON moves the control; "dialect default" leaves the field out.
      await endpoint().getByTestId("edit-button").click();
      await expect(select.inputValue()).resolves.toBe("key");
      const typed = await json();
      await form.getByTestId("endpoint-form-json").fill(JSON.stringify({ ...typed, ordering: "none" }));
      await expect(select.inputValue()).resolves.toBe("none");
      await select.selectOption("");
      await expect(json()).resolves.not.toHaveProperty("ordering");
      await form.getByTestId("endpoint-form-save").click();
      await form.waitFor({ state: "detached", timeout: 10_000 });
      await ordering("none").waitFor({ timeout: 10_000 });
      expect((await adminGet(`/v1/apps/${APP_ID}/endpoints/${ENDPOINT_ID}`)).body).toMatchObject({
        ordering: "none",
      });

      expect(await page.getByTestId("error").count()).toBe(0);
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 90_000);

    it("shows an event's story: the event derived from it and that event's attempts", async () => {
      server.fallback({ status: 200, body: { ok: true } });
      // As the chat core's conn.online and the user.online presence derives from it land in EVENTS;
      // the deliverer then sends both to the endpoint, which takes every type.
      await applyTopology(bus, { replicas: 1 });
      const cause = Event.fromPartial({
        id: `story-${Date.now()}`,
        appId: APP_ID,
        type: "conn.online",
        occurredAt: new Date(),
        payload: { $case: "connectionOnline", value: { userId: "u-story", connId: "c1" } },
      });
      const derived = Event.fromPartial({
        id: `${APP_ID}:u-story:presence:1`,
        appId: APP_ID,
        type: "user.online",
        occurredAt: new Date(),
        payload: { $case: "userOnline", value: { userId: "u-story", seq: 1, causeEventId: cause.id } },
      });
      for (const event of [cause, derived]) await storeEvent(bus, event, { msgId: event.id });

      const { page, pageErrors } = await openPanel(APP_ID);
      await page.getByTestId("filter-event").fill(cause.id);
      await page.getByTestId("filter-apply").click();
      const story = page.getByTestId("event-story");
      const derivedAttempt = story.locator(
        `[data-testid="story-derived"][data-event-id="${derived.id}"] [data-testid="story-attempt"][data-outcome="delivered"]`,
      );
      await waitForRow(
        page,
        derivedAttempt,
        "the derived user.online and its delivered attempt in the story",
      );
      await expect(
        story.locator(`[data-testid="story-event"][data-event-id="${cause.id}"]`).count(),
      ).resolves.toBe(1);
      await expect(story.getByTestId("story-derived").textContent()).resolves.toContain(
        `derived from ${cause.id}`,
      );
      expect(await page.getByTestId("error").count()).toBe(0);
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 60_000);

    it("shows the app's presence and chatroom timings from the config file, the services' defaults for the rest", async () => {
      const { page, pageErrors } = await openPanel(FILE_APP);
      const settings = page.getByTestId("app-settings");
      await settings.waitFor({ state: "visible", timeout: 10_000 });
      const text = (id: string) => page.getByTestId(`setting-${id}`).textContent();
      await expect(text("presence.graceMs")).resolves.toContain("presence grace: 30s");
      await expect(text("presence.nodeLeaseMarginMs")).resolves.toContain("service default");
      await expect(text("chatroom.kickAfterMs")).resolves.toContain("auto-kick after: 90s");
      await expect(text("chatroom.abnormalDelayMs")).resolves.toContain("service default");
      await expect(text("chatroom.idleDestroyMs")).resolves.toContain("off (0)");
      expect(pageErrors).toEqual([]);
      await page.close();
    });

    it("says when an app edited here differs from the config file, and hands it back on request", async () => {
      // An operator's edit through the API: the app is the API's now, the file's version waits.
      const added = await fetch(`${gateway.adminUrl}/v1/apps/${FILE_APP}/endpoints`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ id: "extra", url: "http://127.0.0.1:9/extra", dialect: "mqttchat" }),
      });
      expect(added.status, await added.text()).toBe(201);

      const { page, pageErrors } = await openPanel(FILE_APP);
      const rowOf = (id: string) => page.locator(`[data-testid="endpoint-row"][data-endpoint-id="${id}"]`);
      await rowOf("extra").waitFor({ timeout: 10_000 });
      const ownership = page.getByTestId("app-ownership");
      await ownership.waitFor({ state: "visible", timeout: 10_000 });
      await expect(ownership.textContent()).resolves.toContain("differs");
      await page.getByTestId("file-differs").waitFor({ timeout: 10_000 });

      // A dismissed confirmation changes nothing; an accepted one hands the app back.
      page.once("dialog", (dialog) => void dialog.dismiss());
      await page.getByTestId("return-to-file").click();
      expect(((await adminGet(`/v1/apps/${FILE_APP}`)).body as { source: string }).source).toBe("api");
      page.once("dialog", (dialog) => void dialog.accept());
      await page.getByTestId("return-to-file").click();
      await rowOf("audit").waitFor({ timeout: 10_000 });
      await rowOf("extra").waitFor({ state: "detached", timeout: 10_000 });
      await expect(page.getByTestId("app-ownership").isHidden()).resolves.toBe(true);
      expect((await adminGet(`/v1/apps/${FILE_APP}`)).body).toMatchObject({
        source: "file",
        file: { differs: false },
      });
      await page.getByTestId("file-differs").waitFor({ state: "detached", timeout: 10_000 });

      expect(await page.getByTestId("error").count()).toBe(0);
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 60_000);
  },
);

/** A GET on the admin API with the admin token, as a script would do it. */
async function adminGet(path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${gateway.adminUrl}${path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return { status: res.status, body: await res.json() };
}

/**
 * Refreshes the deliveries table until `locator` matches: the log store writes attempts a moment
 * after they happen. On timeout, names what the panel showed (its error lines) and the services' logs.
 */
async function waitForRow(page: Page, locator: ReturnType<Page["locator"]>, what: string): Promise<void> {
  try {
    await waitFor(
      async () => {
        if ((await locator.count()) > 0) return true;
        await page.getByTestId("deliveries-refresh").click();
        await page.waitForTimeout(250);
        return (await locator.count()) > 0;
      },
      { timeoutMs: 20_000, intervalMs: 250, what },
    );
  } catch (err) {
    const shown = await page.locator('[role="alert"]:not([hidden])').allTextContents();
    const rows = await page.getByTestId("delivery-row").allTextContents();
    const logs = services.flatMap((s) => s.lines.slice(-15).map((line) => `${s.name}: ${line}`));
    throw new Error(
      `${(err as Error).message}\npanel errors: ${JSON.stringify(shown)}\nrows: ${JSON.stringify(rows)}\n` +
        logs.join("\n"),
      { cause: err },
    );
  }
}
