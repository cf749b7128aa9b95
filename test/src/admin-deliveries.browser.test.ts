// The panel's deliveries in Chromium: one row per delivery with its attempts on expand, the filters
// (event type, outcome, a CJK/emoji user, time range), search in bodies, a bulk replay confirmed next
// to the rows and received again by the business server, and the whole panel at 400 px wide.
// Screenshots go to test/artifacts/ (gitignored), kept for a look after the run.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import type { HeraldServiceClient } from "@herald/proto";
import { publishAttemptDurably, type AttemptRecord, type Bus } from "@herald/bus";
import { putApp, type AppConfig } from "@herald/config";
import {
  startPostgres,
  startRecordingServer,
  waitFor,
  type PostgresFixture,
  type RecordingServer,
} from "@herald/testkit";
import type { ServiceProcess } from "./harness.js";
import { publish } from "./grpc-client.js";
import { messageEvent, waitForConfig, startDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "artifacts");
const ADMIN_TOKEN = "admin-deliveries-browser-token";
const APP_ID = "grouped";
const ENDPOINT_ID = "biz";
const USER = "用户😀";
const SECRET = `whsec_${Buffer.alloc(32, 3).toString("base64")}`;
const DAY_MS = 86_400_000;

let stack: DeliveryStack;
let postgres: PostgresFixture;
let gateway: ServiceProcess;
let server: RecordingServer;
let bus: Bus;
let client: HeraldServiceClient;
let browser: Browser;

// Three attempts each (two retries), then dead: A (from the CJK user, with a literal "50%_x" in its
// body) while the business server fails; B once it answers.
const eventA = messageEvent(APP_ID, {
  payload: {
    $case: "messageSent",
    value: { messageId: "a", fromUserId: USER, toUserId: "u2", content: "needle 50%_x" },
  },
});
const eventB = messageEvent(APP_ID, {
  payload: {
    $case: "messageSent",
    value: { messageId: "b", fromUserId: "u1", toUserId: "u2", content: "haystack 50 percent" },
  },
});
const idA = `${String(eventA.id)}:${ENDPOINT_ID}`;
const idB = `${String(eventB.id)}:${ENDPOINT_ID}`;
// As the deliverer records them: a user.online delivery now, and one three days ago.
const ONLINE_ID = `online-1:${ENDPOINT_ID}`;
const OLD_ID = `old-1:${ENDPOINT_ID}`;
const received = (deliveryId: string) =>
  server.requests.filter((r) => r.headers["herald-delivery-id"] === deliveryId).length;

function record(eventId: string, o: Partial<AttemptRecord>): AttemptRecord {
  return {
    id: `rec-${eventId}`,
    kind: "delivery",
    appId: APP_ID,
    endpointId: ENDPOINT_ID,
    eventId,
    deliveryId: `${eventId}:${ENDPOINT_ID}`,
    attempt: 1,
    eventType: "msg.sent",
    dialect: "standard",
    trigger: "event",
    operationId: "op",
    url: `${server.url}/hook`,
    requestBody: "{}",
    status: 200,
    responseBody: "ok",
    latencyMs: 4,
    outcome: "delivered",
    error: "",
    at: new Date().toISOString(),
    ...o,
  };
}

describe.skipIf(!hasChromium)(
  `deliveries in the admin panel${hasChromium ? "" : ` (skipped: ${CHROMIUM} is missing)`}`,
  () => {
    beforeAll(async () => {
      await mkdir(ARTIFACTS, { recursive: true });
      postgres = await startPostgres();
      stack = await startDeliveryStack({ env: { ADMIN_TOKEN }, logStoreDatabaseUrl: postgres.url });
      ({ gateway, bus, client } = stack);
      const deliverer = stack.deliverers[0]!;
      server = await startRecordingServer();
      const revision = await putApp(bus, {
        appId: APP_ID,
        endpoints: [
          {
            id: ENDPOINT_ID,
            url: `${server.url}/hook`,
            dialect: "standard",
            secrets: [{ value: SECRET }],
            retry: { scheduleMs: [50, 50], jitter: 0 },
          },
        ],
      } as unknown as AppConfig);
      await waitForConfig([deliverer], revision);

      server.fallback({ status: 500, body: { error: "business server down" } });
      await publish(client, [eventA]);
      await waitFor(() => received(idA) === 3, { timeoutMs: 20_000, what: "A tried three times" });
      server.fallback({ status: 200, body: { ok: true } });
      await publish(client, [eventB]);
      await waitFor(() => received(idB) === 1, { timeoutMs: 20_000, what: "B delivered" });
      await publishAttemptDurably(bus, record("online-1", { eventType: "user.online" }));
      await publishAttemptDurably(
        bus,
        record("old-1", {
          at: new Date(Date.now() - 3 * DAY_MS).toISOString(),
          outcome: "dead",
          status: 410,
        }),
      );
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await stack?.stop();
      await server?.close();
      await postgres?.stop();
    });

    async function openPanel(width = 1280): Promise<{ page: Page; pageErrors: string[] }> {
      const page = await browser.newPage({ viewport: { width, height: 800 } });
      const pageErrors: string[] = [];
      page.on("pageerror", (err) => pageErrors.push(err.message));
      await page.goto(`${gateway.adminUrl}/admin/#app=${APP_ID}`);
      await page.getByTestId("token-input").fill(ADMIN_TOKEN);
      await page.getByTestId("token-save").click();
      return { page, pageErrors };
    }

    const rowOf = (page: Page, id: string) =>
      page.locator(`[data-testid="delivery-row"][data-delivery-id="${id}"]`);
    /** The delivery ids the panel lists, once it lists `expected` (the log store writes a moment late). */
    async function shownIds(page: Page, expected: string[]): Promise<string[]> {
      let shown: string[] = [];
      await waitFor(
        async () => {
          shown = await attributeOfEach(page, '[data-testid="delivery-row"]', "data-delivery-id");
          if (JSON.stringify([...shown].sort()) === JSON.stringify([...expected].sort())) return true;
          await page.getByTestId("deliveries-refresh").click();
          return false;
        },
        { timeoutMs: 20_000, intervalMs: 300, what: `the panel listing ${expected.join(", ")}` },
      ).catch((err: Error) => {
        throw new Error(`${err.message}; shown: ${JSON.stringify(shown)}`, { cause: err });
      });
      return shown;
    }
    async function applyFilters(page: Page, fill: (page: Page) => Promise<unknown>): Promise<void> {
      await page.getByTestId("filter-clear").click();
      await fill(page);
      await page.getByTestId("filter-apply").click();
    }

    it("shows a delivery with three attempts as one row that opens to its three attempts", async () => {
      const { page, pageErrors } = await openPanel();
      await shownIds(page, [idA, idB, ONLINE_ID]);
      const row = rowOf(page, idA);
      await expect(row.getAttribute("data-attempts")).resolves.toBe("3");
      await expect(row.getAttribute("data-outcome")).resolves.toBe("dead");
      await row.click();
      const detail = page.locator(`[data-testid="delivery-detail"][data-delivery-id="${idA}"]`);
      const attempts = detail.getByTestId("attempt-item");
      await waitFor(async () => (await attempts.count()) === 3, { what: "three attempts shown" });
      expect(
        await attributeOfEach(
          page,
          `[data-testid="delivery-detail"][data-delivery-id="${idA}"] [data-testid="attempt-item"]`,
          "data-attempt",
        ),
      ).toEqual(["3", "2", "1"]);
      await expect(attempts.first().getByTestId("attempt-status").textContent()).resolves.toBe("500");
      await expect(attempts.first().getByTestId("request-body").textContent()).resolves.toContain("needle");
      await expect(attempts.first().getByTestId("response-body").textContent()).resolves.toContain(
        "business server down",
      );
      await page.screenshot({ path: path.join(ARTIFACTS, "deliveries-grouped.png"), fullPage: true });
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 60_000);

    it("filters by event type, outcome, a CJK and emoji user, and time range", async () => {
      const { page, pageErrors } = await openPanel();
      await shownIds(page, [idA, idB, ONLINE_ID]);
      await applyFilters(page, (p) => p.getByTestId("filter-type").fill("user.online"));
      await shownIds(page, [ONLINE_ID]);
      await applyFilters(page, (p) => p.getByTestId("filter-outcome").selectOption("dead"));
      await shownIds(page, [idA]);
      await applyFilters(page, (p) => p.getByTestId("filter-user").fill(USER));
      await shownIds(page, [idA]);
      await applyFilters(page, async (p) => {
        await p.getByTestId("filter-user").fill(USER);
        await p.getByTestId("filter-outcome").selectOption("delivered");
      });
      await shownIds(page, []);
      // The delivery of three days ago: not in the last day, in the last week and in a range around it.
      await applyFilters(page, (p) => p.getByTestId("filter-range").selectOption("7d"));
      await shownIds(page, [idA, idB, ONLINE_ID, OLD_ID]);
      await applyFilters(page, async (p) => {
        await p.getByTestId("filter-range").selectOption("custom");
        const local = (ms: number) => {
          const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
          return d.toISOString().slice(0, 16);
        };
        await p.getByTestId("filter-from").fill(local(Date.now() - 4 * DAY_MS));
        await p.getByTestId("filter-to").fill(local(Date.now() - 2 * DAY_MS));
      });
      await shownIds(page, [OLD_ID]);
      await page.screenshot({ path: path.join(ARTIFACTS, "deliveries-filtered.png"), fullPage: true });
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 60_000);

    it("searches request and response bodies, % and _ taken literally", async () => {
      const { page, pageErrors } = await openPanel();
      await applyFilters(page, (p) => p.getByTestId("filter-search").fill("50%_x"));
      await shownIds(page, [idA]);
      await applyFilters(page, (p) => p.getByTestId("filter-search").fill("50%"));
      await shownIds(page, [idA]);
      await applyFilters(page, (p) => p.getByTestId("filter-search").fill("HAYSTACK"));
      await shownIds(page, [idB]);
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 60_000);

    it("replays the filtered set after a confirmation next to the rows, at 400 px wide", async () => {
      const { page, pageErrors } = await openPanel(400);
      await shownIds(page, [idA, idB, ONLINE_ID]);
      // Nothing at phone width is wider than the page.
      const overflow = () =>
        page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
      expect(await overflow()).toBe(0);
      await rowOf(page, idA).click();
      await page
        .locator(`[data-testid="delivery-detail"][data-delivery-id="${idA}"] [data-testid="attempt-item"]`)
        .first()
        .waitFor();
      expect(await overflow()).toBe(0);
      await page.screenshot({ path: path.join(ARTIFACTS, "deliveries-400px.png"), fullPage: true });

      // A row's replay asks in the row, in view.
      await page
        .locator(`[data-testid="delivery-detail"][data-delivery-id="${idA}"]`)
        .getByTestId("replay-button")
        .click();
      const rowConfirm = page.getByTestId("replay-confirmation");
      await expectInViewport(page, rowConfirm);
      await page.getByTestId("replay-cancel").click();

      // The bulk replay: counted, confirmed beside the rows, in view.
      await applyFilters(page, async (p) => {
        await p.getByTestId("filter-outcome").selectOption("dead");
        await p.getByTestId("filter-user").fill(USER);
      });
      await shownIds(page, [idA]);
      await page.getByTestId("bulk-replay").click();
      const confirm = page.getByTestId("bulk-confirmation");
      await confirm.waitFor();
      await expect(confirm.getAttribute("data-count")).resolves.toBe("1");
      await expect(confirm.textContent()).resolves.toContain("Replay 1 delivery");
      await expectInViewport(page, confirm);
      await page.screenshot({ path: path.join(ARTIFACTS, "deliveries-bulk-confirm-400px.png") });
      expect(received(idA)).toBe(3);

      await page.getByTestId("bulk-replay-confirm").click();
      const result = page.getByTestId("bulk-result");
      await expect(result.textContent()).resolves.toBe("1 delivery queued for replay.");
      await expectInViewport(page, result);
      // The business server gets it again, under the same delivery id; the row shows it delivered.
      await waitFor(() => received(idA) === 4, { timeoutMs: 20_000, what: "A received a fourth time" });
      await applyFilters(page, (p) => p.getByTestId("filter-user").fill(USER));
      await waitFor(
        async () => {
          await page.getByTestId("deliveries-refresh").click();
          return (await rowOf(page, idA).getAttribute("data-outcome")) === "delivered";
        },
        { timeoutMs: 20_000, intervalMs: 300, what: "A delivered in the panel" },
      );
      await expect(rowOf(page, idA).getAttribute("data-attempts")).resolves.toBe("4");
      expect(await overflow()).toBe(0);
      await page.screenshot({ path: path.join(ARTIFACTS, "deliveries-replayed-400px.png"), fullPage: true });
      expect(await page.getByTestId("error").count()).toBe(0);
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 90_000);
  },
);

/**
 * An attribute of each element `selector` matches, in order ("" where it is absent), read in one go in
 * the page: the list may re-render between two reads of separate elements.
 */
function attributeOfEach(page: Page, selector: string, name: string): Promise<string[]> {
  return page.evaluate<string[]>(
    `[...document.querySelectorAll(${JSON.stringify(selector)})].map((el) => el.getAttribute(${JSON.stringify(name)}) ?? "")`,
  );
}

/** The element is within the visible part of the page (the viewport), not scrolled off it. */
async function expectInViewport(page: Page, locator: Locator): Promise<void> {
  await locator.waitFor();
  const box = await locator.boundingBox();
  const viewport = page.viewportSize();
  expect(box).not.toBeNull();
  expect(viewport).not.toBeNull();
  if (box === null || viewport === null) return;
  expect(box.y).toBeGreaterThanOrEqual(0);
  expect(box.y + box.height).toBeLessThanOrEqual(viewport.height);
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(viewport.width);
}
