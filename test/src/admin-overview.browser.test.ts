// The panel's overview in Chromium: deliveries to a loopback business server (half of them dead)
// shown as counts, success rate and charts; the range picker; and a phone-wide page that does not
// scroll sideways. And the Nodes card: a chat-core node's heartbeat, lease and connections, from events
// published through the gateway and folded by presence. Screenshots go to test/artifacts/ (not
// committed) for a reader to look at.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import type { Bus } from "@herald/bus";
import { putApp, type AppConfig } from "@herald/config";
import type { DeepPartial, Event, HeraldServiceClient } from "@herald/proto";
import {
  startPostgres,
  startRecordingServer,
  waitFor,
  type PostgresFixture,
  type RecordingServer,
} from "@herald/testkit";
import { adminCaller } from "./admin-client.js";
import { messageEvent, waitForConfig, startDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";
import { publish } from "./grpc-client.js";
import type { ServiceProcess } from "./harness.js";

// Debian's Chromium, installed by .ci/run; playwright-core drives it and downloads nothing.
const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url));
const ADMIN_TOKEN = "overview-panel-token";
const APP_ID = "overview-panel";
const EVENTS = 3;
// An app of its own for the nodes, so their events add no deliveries to the overview's.
const NODES_APP = "overview-nodes";
const NODE_ID = "节点-1🚀";
const secrets = [{ value: `whsec_${Buffer.alloc(32, 5).toString("base64")}` }];

let stack: DeliveryStack;
let postgres: PostgresFixture;
let gateway: ServiceProcess;
let server: RecordingServer;
let bus: Bus;
let client: HeraldServiceClient;
let browser: Browser;
const call = adminCaller(() => gateway.adminUrl, ADMIN_TOKEN);

async function openOverview(width: number): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));
  await page.goto(`${gateway.adminUrl}/admin/#app=${APP_ID}`);
  await page.getByTestId("token-input").fill(ADMIN_TOKEN);
  await page.getByTestId("token-save").click();
  await page.getByTestId("overview-delivered").waitFor();
  return { page, pageErrors };
}

/** The panel of the nodes' app, once its Nodes card shows the node. */
async function openNodes(width: number): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));
  await page.goto(`${gateway.adminUrl}/admin/#app=${NODES_APP}`);
  await page.getByTestId("token-input").fill(ADMIN_TOKEN);
  await page.getByTestId("token-save").click();
  await page.getByTestId("node-row").first().waitFor();
  return { page, pageErrors };
}

/** Waits for the overview card to show `range` with its charts drawn. */
async function waitForRange(page: Page, range: string, buckets: number): Promise<void> {
  const chart = page.getByTestId("overview-volume-chart");
  await waitFor(
    async () =>
      (await page.getByTestId("overview").getAttribute("data-range")) === range &&
      (await chart.getAttribute("data-buckets")) === String(buckets),
    { what: `the ${range} overview` },
  );
}

describe.skipIf(!hasChromium)(
  `overview in the admin panel${hasChromium ? "" : ` (skipped: ${CHROMIUM} is missing; .ci/run installs it)`}`,
  () => {
    beforeAll(async () => {
      await mkdir(ARTIFACTS, { recursive: true });
      postgres = await startPostgres();
      stack = await startDeliveryStack({
        env: { ADMIN_TOKEN },
        logStoreDatabaseUrl: postgres.url,
        also: ["presence"],
      });
      ({ gateway, bus, client } = stack);
      const deliverer = stack.deliverers[0]!;
      server = await startRecordingServer();
      server.fallback((req) => (req.path === "/ok" ? { status: 200, body: {} } : { status: 500, body: {} }));
      const endpoint = (id: string) => ({
        id,
        url: `${server.url}/${id}`,
        dialect: "standard",
        secrets,
        retry: { scheduleMs: [], jitter: 0 },
      });
      const revision = await putApp(bus, {
        appId: APP_ID,
        endpoints: [endpoint("ok"), endpoint("down")],
      } as unknown as AppConfig);
      await waitForConfig([deliverer], revision);
      await publish(
        client,
        Array.from({ length: EVENTS }, () => messageEvent(APP_ID, { occurredAt: new Date() })),
      );
      await waitFor(
        async () => {
          const res = await call("GET", `/v1/apps/${APP_ID}/overview?range=hour`);
          const total = (res.body as { total?: { dead: number; delivered: number } }).total;
          return res.status === 200 && total?.dead === EVENTS && total.delivered === EVENTS;
        },
        { what: "the deliveries in the overview" },
      );
      expect((await call("PUT", `/v1/apps/${NODES_APP}`, { body: {} })).status).toBe(201);
      const nodeEvent = (payload: DeepPartial<Event>["payload"]): DeepPartial<Event> => ({
        id: `overview-node-${process.pid}-${payload?.$case ?? ""}`,
        appId: NODES_APP,
        operationId: `op-${payload?.$case ?? ""}`,
        payload,
      });
      await publish(client, [
        nodeEvent({ $case: "nodeHeartbeat", value: { nodeId: NODE_ID, lease: { seconds: 3600, nanos: 0 } } }),
        nodeEvent({
          $case: "connectionOnline",
          value: { userId: "用户-1", connId: "c1", nodeId: NODE_ID, platformId: 1 },
        }),
      ]);
      await waitFor(
        async () => {
          const res = await call("GET", `/v1/apps/${NODES_APP}/nodes`);
          const nodes = (res.body as { nodes?: { status: string; connections: number }[] }).nodes;
          return nodes?.[0]?.status === "leased" && nodes[0].connections === 1;
        },
        { what: "the leased node" },
      );
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await stack?.stop();
      await server?.close();
      await postgres?.stop();
    });

    it("shows the counts, success rate and charts, and switches range", async () => {
      const { page, pageErrors } = await openOverview(1200);
      await waitForRange(page, "day", 24);
      const text = (id: string) => page.getByTestId(id).textContent();
      await expect(text("overview-delivered")).resolves.toBe(String(EVENTS));
      await expect(text("overview-dead")).resolves.toBe(String(EVENTS));
      await expect(text("overview-attempts")).resolves.toBe(String(2 * EVENTS));
      await expect(text("overview-success-rate")).resolves.toBe("50%");
      await expect(text("overview-p99")).resolves.toMatch(/^≤\d+ ms$/);
      const row = (id: string) =>
        page.locator(`[data-testid="overview-endpoint-row"][data-endpoint-id="${id}"]`);
      await expect(row("ok").locator("td").nth(4).textContent()).resolves.toBe("100%");
      await expect(row("down").locator("td").nth(3).textContent()).resolves.toBe(String(EVENTS));
      await expect(row("down").locator("td").nth(4).textContent()).resolves.toBe("0%");

      // Both charts drawn (uPlot's canvas), with the attempts in their series.
      const volume = page.getByTestId("overview-volume-chart");
      const latency = page.getByTestId("overview-latency-chart");
      expect(await volume.locator("canvas").count()).toBe(1);
      expect(await latency.locator("canvas").count()).toBe(1);
      await expect(volume.getAttribute("data-attempts")).resolves.toBe(String(2 * EVENTS));
      expect(Number(await latency.getAttribute("data-points"))).toBeGreaterThan(0);
      await page.screenshot({ path: path.join(ARTIFACTS, "overview-day.png"), fullPage: true });

      await page.getByTestId("overview-range-hour").click();
      await waitForRange(page, "hour", 60);
      await expect(volume.getAttribute("data-attempts")).resolves.toBe(String(2 * EVENTS));
      await page.getByTestId("overview-range-week").click();
      await waitForRange(page, "week", 168);
      await expect(text("overview-dead")).resolves.toBe(String(EVENTS));

      // One endpoint: the totals are its own.
      await page.getByTestId("overview-endpoint").selectOption("ok");
      await waitFor(async () => (await text("overview-dead")) === "0", {
        what: "the ok endpoint's overview",
      });
      await expect(text("overview-success-rate")).resolves.toBe("100%");
      await page.screenshot({ path: path.join(ARTIFACTS, "overview-week-endpoint.png"), fullPage: true });
      expect(pageErrors).toEqual([]);
      expect(await page.getByTestId("overview-error").isHidden()).toBe(true);
      await page.close();
    }, 60_000);

    it("fits a 400 px wide screen without scrolling sideways", async () => {
      const { page, pageErrors } = await openOverview(400);
      await waitForRange(page, "day", 24);
      // The test's tsconfig has no DOM types: the page's own widths, read as an expression.
      const sideways = Number(
        await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"),
      );
      const right = async (testid: string) => {
        const box = await page.getByTestId(testid).boundingBox();
        return box === null ? Infinity : box.x + box.width;
      };
      await page.screenshot({ path: path.join(ARTIFACTS, "overview-400px.png"), fullPage: true });
      expect(await right("overview")).toBeLessThanOrEqual(400);
      expect(await right("overview-volume-chart")).toBeLessThanOrEqual(400);
      // The endpoint table scrolls inside its card when its columns need more room.
      expect(await right("overview-endpoints")).toBeLessThanOrEqual(400);
      expect(await right("overview-range-week")).toBeLessThanOrEqual(400);
      expect(await right("overview-endpoint")).toBeLessThanOrEqual(400);
      expect(await right("token-input")).toBeLessThanOrEqual(400);
      expect(await page.getByTestId("overview-volume-chart").locator("canvas").count()).toBe(1);
      expect(sideways).toBeLessThanOrEqual(0);
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 60_000);

    it("shows each chat-core node with its last heartbeat, lease and connections", async () => {
      const { page, pageErrors } = await openNodes(1200);
      const row = page.locator(`[data-testid="node-row"][data-node-id="${NODE_ID}"]`);
      const cell = (id: string) => row.getByTestId(id).textContent();
      await expect(cell("node-id")).resolves.toBe(NODE_ID);
      await expect(cell("node-status")).resolves.toBe("leased");
      await expect(cell("node-heartbeat")).resolves.toMatch(/ ago$/);
      await expect(cell("node-lease")).resolves.toBe("1h");
      // An hour and the default margin (5 s) from the heartbeat: about an hour from now.
      await expect(cell("node-expires")).resolves.toMatch(/^(1h|59m( \d+s)?)$/);
      await expect(cell("node-reset")).resolves.toBe("—");
      await expect(cell("node-connections")).resolves.toBe("1");
      await page.getByTestId("nodes").screenshot({ path: path.join(ARTIFACTS, "nodes.png") });
      expect(pageErrors).toEqual([]);
      expect(await page.getByTestId("nodes-error").isHidden()).toBe(true);
      await page.close();
    }, 60_000);

    it("fits the Nodes card in a 400 px wide screen without scrolling sideways", async () => {
      const { page, pageErrors } = await openNodes(400);
      const sideways = Number(
        await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"),
      );
      const right = async (testid: string) => {
        const box = await page.getByTestId(testid).first().boundingBox();
        return box === null ? Infinity : box.x + box.width;
      };
      await page.getByTestId("nodes").screenshot({ path: path.join(ARTIFACTS, "nodes-400px.png") });
      // Each node stacks its cells, labelled, so every one is in sight without scrolling the table.
      expect(await right("nodes")).toBeLessThanOrEqual(400);
      for (const cell of ["node-id", "node-heartbeat", "node-expires", "node-reset", "node-connections"]) {
        expect({ cell, fits: (await right(cell)) <= 400 }).toEqual({ cell, fits: true });
      }
      expect(sideways).toBeLessThanOrEqual(0);
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 60_000);
  },
);
