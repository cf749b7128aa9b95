// The app's overview: deliveries, success rate, p50/p99 latency and dead deliveries over the last
// hour, day or week, in total, per endpoint and as charts. The charts are uPlot's, served by the admin
// server itself from its own node_modules (vendor/uplot/), so the panel still loads nothing from elsewhere.
import { api, appPath } from "./api.js";
import { fact, h, show, table } from "./dom.js";
import { button, card } from "./section.js";

/** @typedef {import("../src/answers.js").Overview} Overview */
/** @typedef {import("../src/answers.js").OverviewStats} OverviewStats */
/** @typedef {import("../src/answers.js").OverviewRangeName} RangeName */
/** @typedef {typeof import("uplot")} UPlotClass */
/** @typedef {import("uplot")} UPlotChart */

/** The ranges the API knows (it defines their bucket widths), as its answers name them. */
/** @type {readonly RangeName[]} */
const RANGES = ["hour", "day", "week"];

// Relative to this module, so under /admin/vendor/uplot/ as the admin server serves it.
const UPLOT_MODULE = "./vendor/uplot/uPlot.esm.js";
const CHART_HEIGHT = 180;
const COLORS = { delivered: "#1a7f37", retried: "#9a6700", dead: "#c0262d", p50: "#1f5fbf", p99: "#8250df" };

/** @type {Promise<UPlotClass> | undefined} */
let uPlotLoading;
/** uPlot, loaded once, the first time a chart is drawn. */
function loadUPlot() {
  uPlotLoading ??= import(UPLOT_MODULE).then((m) => /** @type {{default: UPlotClass}} */ (m).default);
  return uPlotLoading;
}

/** @param {number | null} rate */
const percent = (rate) =>
  rate === null ? "–" : `${(rate * 100).toFixed(Number.isInteger(rate * 100) ? 0 : 1)}%`;
/** @param {number} ms */
const millis = (ms) => (ms === 0 ? "–" : `≤${ms} ms`);

/**
 * @param {{ appId: string, fail: (err: unknown) => void }} ctx
 * @returns {{ root: HTMLElement, refresh: () => Promise<void>, poll: () => Promise<void> }}
 */
export function overviewSection(ctx) {
  /** @type {RangeName} */
  let range = "day";
  let endpointId = "";
  /** @type {UPlotChart[]} */
  let charts = [];

  const rangeButtons = RANGES.map((name) =>
    button(name, `overview-range-${name}`, () => {
      range = name;
      void refresh();
    }),
  );
  const endpointSelect = /** @type {HTMLSelectElement} */ (
    h("select", {
      testid: "overview-endpoint",
      "aria-label": "Endpoint",
      onchange: () => {
        endpointId = endpointSelect.value;
        void refresh();
      },
    })
  );
  const section = card({ title: "Overview", testid: "overview" });
  section.root
    .querySelector(".tools")
    ?.append(
      h("div", { class: "tools", role: "group", "aria-label": "Range" }, rangeButtons),
      endpointSelect,
    );
  const totals = h("div", { class: "facts", testid: "overview-totals" });
  const volume = h("div", { class: "chart", testid: "overview-volume-chart" });
  const latency = h("div", { class: "chart", testid: "overview-latency-chart" });
  const rows = h("div", { class: "scroll", testid: "overview-endpoints" });
  show(
    section.body,
    totals,
    h("h3", {}, "Delivery attempts"),
    volume,
    h("h3", {}, "Attempt latency (p50, p99)"),
    latency,
    rows,
  );
  // A chart is as wide as its card, at any width, without taking the page wider.
  window.addEventListener("resize", () => {
    for (const chart of charts) chart.setSize({ width: chartWidth(volume), height: CHART_HEIGHT });
  });

  async function refresh() {
    for (const b of rangeButtons) {
      const on = b.textContent === range;
      b.classList.toggle("primary", on);
      b.setAttribute("aria-pressed", String(on));
    }
    try {
      const overview = /** @type {Overview} */ (
        await api.get(appPath(ctx.appId, "overview"), { range, endpointId })
      );
      section.error(null);
      await render(overview);
    } catch (err) {
      section.error(err);
    }
  }

  /** @param {Overview} o */
  async function render(o) {
    section.root.dataset["range"] = o.range;
    const t = o.total;
    show(
      totals,
      fact("Attempts", h("span", { testid: "overview-attempts" }, String(t.attempts))),
      fact("Delivered", h("span", { testid: "overview-delivered" }, String(t.delivered))),
      fact("Retried", h("span", { testid: "overview-retried" }, String(t.retried))),
      fact(
        "Dead",
        h("span", { testid: "overview-dead", class: t.dead > 0 ? "outcome-dead" : "" }, String(t.dead)),
      ),
      fact("Success rate", h("span", { testid: "overview-success-rate" }, percent(t.successRate))),
      fact("p50", h("span", { testid: "overview-p50" }, millis(t.p50Ms))),
      fact("p99", h("span", { testid: "overview-p99" }, millis(t.p99Ms))),
    );
    if (endpointId === "") {
      const options = o.endpoints.map((e) => e.endpointId);
      show(
        endpointSelect,
        h("option", { value: "" }, "All endpoints"),
        options.map((id) => h("option", { value: id }, id)),
      );
      endpointSelect.value = "";
    }
    show(
      rows,
      table(
        "overview-endpoint-table",
        ["Endpoint", "Attempts", "Delivered", "Dead", "Success", "p50", "p99"],
        o.endpoints.map((e) =>
          h(
            "tr",
            { testid: "overview-endpoint-row", "data-endpoint-id": e.endpointId },
            h("td", {}, h("code", {}, e.endpointId)),
            h("td", {}, String(e.attempts)),
            h("td", {}, String(e.delivered)),
            h("td", { class: e.dead > 0 ? "outcome-dead" : "" }, String(e.dead)),
            h("td", {}, percent(e.successRate)),
            h("td", {}, millis(e.p50Ms)),
            h("td", {}, millis(e.p99Ms)),
          ),
        ),
      ),
    );
    await drawCharts(o);
  }

  /** @param {Overview} o */
  async function drawCharts(o) {
    const uPlot = await loadUPlot();
    for (const chart of charts) chart.destroy();
    const x = o.series.map((b) => Date.parse(b.start) / 1000);
    // No attempts in a bucket: a gap in the latency lines, not a fall to 0 ms.
    /** @param {number} ms */
    const gap = (ms) => (ms === 0 ? null : ms);
    const width = chartWidth(volume);
    /** @param {string} label @param {string} stroke @returns {import("uplot").Series} */
    const line = (label, stroke) => ({ label, stroke, width: 1.5 });
    charts = [
      new uPlot(
        {
          width,
          height: CHART_HEIGHT,
          series: [
            {},
            line("delivered", COLORS.delivered),
            line("retried", COLORS.retried),
            line("dead", COLORS.dead),
          ],
          axes: [{}, { size: 40 }],
        },
        [x, o.series.map((b) => b.delivered), o.series.map((b) => b.retried), o.series.map((b) => b.dead)],
        volume,
      ),
      new uPlot(
        {
          width,
          height: CHART_HEIGHT,
          // Points always: a bucket between two empty ones has no line to draw.
          series: [
            {},
            { ...line("p50 ms", COLORS.p50), points: { show: true, size: 5 } },
            { ...line("p99 ms", COLORS.p99), points: { show: true, size: 5 } },
          ],
          axes: [{}, { size: 50 }],
        },
        [x, o.series.map((b) => gap(b.p50Ms)), o.series.map((b) => gap(b.p99Ms))],
        latency,
      ),
    ];
    // What the charts show, for a reader of the page (and its tests): buckets and attempts drawn.
    volume.dataset["buckets"] = String(x.length);
    volume.dataset["attempts"] = String(o.series.reduce((n, b) => n + b.attempts, 0));
    latency.dataset["buckets"] = String(x.length);
    latency.dataset["points"] = String(o.series.filter((b) => b.p50Ms > 0).length);
  }

  return { root: section.root, refresh, poll: refresh };
}

/** @param {HTMLElement} el */
function chartWidth(el) {
  return Math.max(200, el.clientWidth);
}
