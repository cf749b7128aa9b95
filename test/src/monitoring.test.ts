// deploy/monitoring checked offline: the alert rules (promtool when installed, and their shape
// always), the Grafana dashboard's structure, and that every metric either names is one a running
// Herald service exports (read from the services' own /metrics, not from a list kept here).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { startPostgres, type PostgresFixture } from "@herald/testkit";
import { startDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const monitoringDir = path.join(root, "deploy/monitoring");
const rulesFile = path.join(monitoringDir, "herald-alerts.yaml");
const dashboardFile = path.join(monitoringDir, "grafana-herald.json");

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: Array<{ refId?: string; expr?: string; datasource?: { uid?: string } }>;
}

const rules = (parse(readFileSync(rulesFile, "utf8")) as { groups: Array<{ name: string; rules: Rule[] }> })
  .groups;
const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as {
  uid?: string;
  title?: string;
  templating?: { list?: Array<{ name: string; type: string; query: string }> };
  panels?: Panel[];
};
const dataPanels = (dashboard.panels ?? []).filter((p) => p.type !== "row");

const onPath = (bin: string) => spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;

/** The herald_* metric names a PromQL expression reads, histogram series folded into their metric. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bherald_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""));
}

describe("alert rules", () => {
  const all = rules.flatMap((g) => g.rules.map((rule) => ({ group: g.name, rule })));

  // Without promtool the rules are checked for shape and metric names only: the report says so.
  it.skipIf(!onPath("promtool"))("pass promtool check rules", () => {
    const out = spawnSync("promtool", ["check", "rules", rulesFile], { encoding: "utf8" });
    expect(out.status, out.stdout + out.stderr).toBe(0);
  });

  it.each(all.map(({ group, rule }) => [`${group}/${rule.alert}`, rule] as const))(
    "%s has an expression, a duration, a severity and a summary and description",
    (_name, rule) => {
      expect(rule.alert).toMatch(/^Herald[A-Za-z]+$/);
      expect(typeof rule.expr).toBe("string");
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(["info", "warning", "critical"]).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toBeTruthy();
      expect(rule.annotations?.description).toBeTruthy();
      expect(metricNames(rule.expr!).length).toBeGreaterThan(0);
    },
  );

  it("cover endpoints disabled and failing, failure rate, dead deliveries, before-hook timeouts, services and NATS", () => {
    const names = all.map(({ rule }) => rule.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        "HeraldEndpointDisabled",
        "HeraldEndpointFailing",
        "HeraldDeliveryFailureRateHigh",
        "HeraldDeadDeliveries",
        "HeraldBeforeHookFailures",
        "HeraldServiceAbsent",
        "HeraldNatsDisconnected",
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("Grafana dashboard", () => {
  it("has a uid, a title and a Prometheus datasource variable every panel and target uses", () => {
    expect(dashboard.uid).toBe("herald-overview");
    expect(dashboard.title).toBeTruthy();
    const variable = dashboard.templating?.list?.find((v) => v.type === "datasource");
    expect(variable).toMatchObject({ name: "datasource", query: "prometheus" });
    expect(dataPanels.length).toBeGreaterThan(10);
    for (const panel of dataPanels) {
      expect(panel.datasource?.uid, panel.title).toBe("${datasource}");
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(target.datasource?.uid, panel.title).toBe("${datasource}");
        expect(metricNames(target.expr ?? "").length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
      }
    }
  });

  it("has unique panel ids and panels inside the 24-column grid", () => {
    const ids = (dashboard.panels ?? []).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels ?? []) {
      expect(panel.gridPos!.x + panel.gridPos!.w, panel.title).toBeLessThanOrEqual(24);
    }
  });
});

describe.skipIf(!onPath("kubectl"))("the kustomize component", () => {
  it("renders the rules and the dashboard as ConfigMaps beside an overlay", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "herald-monitoring-"));
    try {
      writeFileSync(
        path.join(dir, "kustomization.yaml"),
        [
          "apiVersion: kustomize.config.k8s.io/v1beta1",
          "kind: Kustomization",
          "resources:",
          `  - ${path.relative(dir, path.join(root, "deploy/overlays/dev"))}`,
          "components:",
          `  - ${path.relative(dir, monitoringDir)}`,
        ].join("\n"),
      );
      const out = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      expect(out.status, out.stderr).toBe(0);
      const objects = parseAllDocuments(out.stdout).map(
        (d) =>
          d.toJSON() as {
            kind: string;
            metadata: { name: string; labels?: Record<string, string> };
            data?: Record<string, string>;
          },
      );
      const rulesMap = objects.find(
        (o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("herald-prometheus-rules"),
      );
      expect(rulesMap?.data?.["herald-alerts.yaml"]).toBe(readFileSync(rulesFile, "utf8"));
      const dashboardMap = objects.find(
        (o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("herald-grafana-dashboard"),
      );
      expect(dashboardMap?.metadata.labels?.["grafana_dashboard"]).toBe("1");
      expect(JSON.parse(dashboardMap?.data?.["grafana-herald.json"] ?? "{}")).toEqual(dashboard);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("metric names", () => {
  let pg: PostgresFixture | undefined;
  let stack: DeliveryStack | undefined;
  const exported = new Set<string>();

  beforeAll(async () => {
    pg = await startPostgres();
    stack = await startDeliveryStack({
      also: ["evaluator", "presence", "chatroom"],
      logStoreDatabaseUrl: pg.url,
    });
    const services = [stack.gateway, ...stack.deliverers, ...stack.others];
    expect(new Set(services.map((s) => s.name))).toEqual(
      new Set(["gateway", "evaluator", "presence", "chatroom", "deliverer", "logstore"]),
    );
    for (const service of services) {
      const text = await fetch(`${service.httpUrl}/metrics`).then((r) => r.text());
      for (const m of text.matchAll(/^# TYPE (\S+) /gm)) exported.add(m[1]!);
    }
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await pg?.stop();
  }, 60_000);

  it("named by an alert rule or a dashboard panel are all exported by Herald's services", () => {
    const named = new Map<string, string>();
    for (const rule of rules.flatMap((g) => g.rules)) {
      for (const name of metricNames(rule.expr ?? "")) named.set(name, `alert ${rule.alert}`);
    }
    for (const panel of dataPanels) {
      for (const target of panel.targets ?? []) {
        for (const name of metricNames(target.expr ?? "")) named.set(name, `panel ${panel.title}`);
      }
    }
    const missing = [...named]
      .filter(([name]) => !exported.has(name))
      .map(([name, where]) => `${name} (${where})`);
    expect(missing).toEqual([]);
    // The check has teeth: the services export the metrics it looks for, and a made-up one is missing.
    expect(exported.has("herald_deliverer_operational_events_total")).toBe(true);
    expect(exported.has("herald_deliverer_attempts_totals")).toBe(false);
  });
});
