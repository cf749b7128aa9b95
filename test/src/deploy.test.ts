// deploy/ and the Dockerfile, checked without a cluster or a Docker engine: every overlay is
// rendered with `kubectl kustomize`, every object validated against the Kubernetes schemas
// (kubernetes-models), and the manifests cross-checked against the services themselves: the env
// variables their zod schemas take, the ports they listen on, their probe paths, their drain
// deadline. Broken copies of the manifests prove the checks fail.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import * as appsV1 from "kubernetes-models/apps/v1";
import * as autoscalingV2 from "kubernetes-models/autoscaling/v2";
import * as policyV1 from "kubernetes-models/policy/v1";
import * as coreV1 from "kubernetes-models/v1";
import type { IDeployment, IStatefulSet } from "kubernetes-models/apps/v1";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1";
import type { IConfigMap, IContainer, IPodTemplateSpec, ISecret, IService } from "kubernetes-models/v1";
import { parseHeraldConfig } from "@herald/config";

const root = fileURLToPath(new URL("../..", import.meta.url));
const deployDir = path.join(root, "deploy");
const SERVICES = readdirSync(path.join(root, "services")).filter((name) =>
  existsSync(path.join(root, "services", name, "src/main.ts")),
);
/** Secrets the production overlay expects to exist in the cluster, made from a secret manager. */
const EXTERNAL_SECRETS = ["herald-secrets"];
/** Variables a Deployment may set beyond the service's schema: they are node's, not Herald's. */
const NODE_VARIABLES = new Set(["NODE_OPTIONS"]);

// --- the services' environment, from their own schemas -------------------------------------

interface EnvField {
  safeParse(value: unknown): { success: boolean; data?: unknown; error?: { issues: { message: string }[] } };
}
type EnvSchema = Record<string, EnvField>;

async function loadSchemas(): Promise<Map<string, EnvSchema>> {
  const schemas = new Map<string, EnvSchema>();
  for (const name of SERVICES) {
    const file = pathToFileURL(path.join(root, "services", name, "src/config.ts")).href;
    const mod = (await import(file)) as { schema: { shape: EnvSchema } };
    schemas.set(name, mod.schema.shape);
  }
  return schemas;
}

// --- rendering and schema validation ---------------------------------------------------------

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

function kubectlPath(): string | undefined {
  const found = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  return found.status === 0 ? "kubectl" : undefined;
}

function render(dir: string): K8sObject[] {
  const out = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${out.stderr}`);
  return parseAllDocuments(out.stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`bad YAML from kustomize: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((obj): obj is K8sObject => obj !== null);
}

type ModelClass = (new (data: unknown) => { validate(): void }) & { apiVersion?: string; kind?: string };
const MODELS: Record<string, Record<string, unknown>> = {
  v1: coreV1,
  "apps/v1": appsV1,
  "policy/v1": policyV1,
  "autoscaling/v2": autoscalingV2,
};

/** Problems of each object against the Kubernetes schema of its apiVersion and kind. */
function validateSchemas(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const obj of objects) {
    const where = `${obj.kind}/${obj.metadata?.name}`;
    const candidate = MODELS[obj.apiVersion]?.[obj.kind] as ModelClass | undefined;
    if (typeof candidate !== "function" || candidate.kind !== obj.kind) {
      problems.push(`${where}: no Kubernetes schema known for ${obj.apiVersion} ${obj.kind}`);
      continue;
    }
    try {
      new candidate(obj).validate();
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  }
  return problems;
}

// --- cross-checks against the services ------------------------------------------------------

interface Workload {
  kind: string;
  name: string;
  replicas: number;
  template: IPodTemplateSpec;
  /** The Herald service its first container runs, from `node services/<name>/dist/main.js`. */
  service: string | undefined;
}

function byKind<T>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as unknown as T[];
}

function workloads(objects: K8sObject[]): Workload[] {
  const list = [
    ...byKind<IDeployment>(objects, "Deployment"),
    ...byKind<IStatefulSet>(objects, "StatefulSet"),
  ];
  return list.map((w) => {
    const command = [
      ...(w.spec?.template.spec?.containers[0]?.command ?? []),
      ...(w.spec?.template.spec?.containers[0]?.args ?? []),
    ];
    const script = command.find((arg) => /^services\/[^/]+\/dist\/main\.js$/.test(arg));
    return {
      kind: w.kind,
      name: w.metadata?.name ?? "",
      replicas: w.spec?.replicas ?? 1,
      template: w.spec?.template ?? {},
      service: script?.split("/")[1],
    };
  });
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) {
  if (selector === undefined || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

interface ResolvedEnv {
  /** Every variable the container sets, with its value when the manifests hold it. */
  vars: Map<string, string | undefined>;
  problems: string[];
}

function resolveEnv(container: IContainer, objects: K8sObject[], where: string): ResolvedEnv {
  const configMaps = new Map(byKind<IConfigMap>(objects, "ConfigMap").map((c) => [c.metadata?.name, c]));
  const secrets = new Map(byKind<ISecret>(objects, "Secret").map((s) => [s.metadata?.name, s]));
  const vars = new Map<string, string | undefined>();
  const problems: string[] = [];
  const secretValue = (name: string, key: string): string | undefined => {
    const secret = secrets.get(name);
    if (secret === undefined) {
      if (!EXTERNAL_SECRETS.includes(name)) problems.push(`${where}: Secret ${name} is not in the manifests`);
      return undefined;
    }
    const value = secret.stringData?.[key] ?? secret.data?.[key];
    if (value === undefined) problems.push(`${where}: Secret ${name} has no key ${key}`);
    return value === undefined || secret.stringData?.[key] !== undefined
      ? value
      : Buffer.from(value, "base64").toString("utf8");
  };
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const cm = configMaps.get(source.configMapRef.name);
      if (cm === undefined)
        problems.push(`${where}: ConfigMap ${source.configMapRef.name} is not in the manifests`);
      for (const [key, value] of Object.entries(cm?.data ?? {})) vars.set(key, value);
    }
    if (source.secretRef) {
      const name = source.secretRef.name ?? "";
      const secret = secrets.get(name);
      if (secret === undefined && !EXTERNAL_SECRETS.includes(name)) {
        problems.push(`${where}: Secret ${name} is not in the manifests`);
      }
      for (const key of Object.keys({ ...secret?.data, ...secret?.stringData })) {
        vars.set(key, secretValue(name, key));
      }
    }
  }
  for (const entry of container.env ?? []) {
    const fromConfigMap = entry.valueFrom?.configMapKeyRef;
    const fromSecret = entry.valueFrom?.secretKeyRef;
    if (fromConfigMap) {
      const value = configMaps.get(fromConfigMap.name)?.data?.[fromConfigMap.key];
      if (value === undefined) problems.push(`${where}: ${entry.name} names a missing ConfigMap key`);
      vars.set(entry.name, value);
    } else if (fromSecret) {
      vars.set(entry.name, secretValue(fromSecret.name ?? "", fromSecret.key));
    } else {
      vars.set(entry.name, entry.value ?? "");
    }
  }
  return { vars, problems };
}

/** Where a variable comes from, never its value (it may be a secret); undefined when unset. */
function envSource(
  container: IContainer,
  vars: Map<string, string | undefined>,
  name: string,
): string | undefined {
  const ref = container.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
  if (ref !== undefined) return `Secret ${ref.name ?? ""} key ${ref.key}`;
  if (!vars.has(name)) return undefined;
  const value = vars.get(name);
  return value === undefined
    ? "an external Secret"
    : `a value with sha256 ${createHash("sha256").update(value).digest("hex").slice(0, 8)}`;
}

/** The value the service runs with: what the manifests set, else the schema's default. */
function effective(schema: EnvSchema, vars: Map<string, string | undefined>, name: string): unknown {
  const value = vars.get(name);
  const parsed = schema[name]?.safeParse(value === "" ? undefined : value);
  return parsed?.success ? parsed.data : undefined;
}

function portNumber(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === "number") return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function mebibytes(quantity: string | number | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  const match = /^(\d+)(Mi|Gi)?$/.exec(String(quantity));
  if (match === null) return undefined;
  return Number(match[1]) * (match[2] === "Gi" ? 1024 : match[2] === "Mi" ? 1 : 1 / (1024 * 1024));
}

/**
 * Every way the rendered manifests disagree with the services: each message names the object
 * and what is wrong. Empty: the manifests run what the services expect.
 */
async function crossCheck(objects: K8sObject[], schemas: Map<string, EnvSchema>): Promise<string[]> {
  const problems: string[] = [];
  const all = workloads(objects);
  const services = byKind<IService>(objects, "Service");
  const configMaps = new Map(byKind<IConfigMap>(objects, "ConfigMap").map((c) => [c.metadata?.name, c]));
  const nats = byKind<IStatefulSet>(objects, "StatefulSet").find((s) => s.metadata?.name === "nats");
  const heraldWorkloads = all.filter((w) => w.kind === "Deployment");
  if (nats === undefined) problems.push("StatefulSet/nats: missing");

  for (const w of heraldWorkloads) {
    const where = `Deployment/${w.name}`;
    const container = w.template.spec?.containers[0];
    const schema = w.service === undefined ? undefined : schemas.get(w.service);
    if (container === undefined || schema === undefined) {
      problems.push(`${where}: runs no Herald service (args must be node services/<name>/dist/main.js)`);
      continue;
    }
    const { vars, problems: envProblems } = resolveEnv(container, objects, where);
    problems.push(...envProblems);
    for (const [name, value] of vars) {
      if (NODE_VARIABLES.has(name)) continue;
      const field = schema[name];
      if (field === undefined) {
        problems.push(`${where}: env ${name} is not a variable ${w.service} reads`);
        continue;
      }
      const parsed = field.safeParse(value === "" ? undefined : value);
      if (value !== undefined && !parsed.success) {
        problems.push(`${where}: env ${name} is invalid: ${parsed.error?.issues[0]?.message ?? "rejected"}`);
      }
    }
    // Required variables (no default) must come from somewhere, even a Secret made outside.
    for (const [name, field] of Object.entries(schema)) {
      if (!vars.has(name) && !field.safeParse(undefined).success) {
        problems.push(`${where}: env ${name} is required by ${w.service} and not set`);
      }
    }

    // Ports: every declared port is one the service listens on; probes on the HTTP port.
    const httpPort = effective(schema, vars, "HTTP_PORT") as number;
    const listens = new Map<number, string>([[httpPort, "HTTP_PORT"]]);
    for (const name of ["GRPC_PORT", "ADMIN_PORT"]) {
      if (name in schema) listens.set(effective(schema, vars, name) as number, name);
    }
    for (const port of container.ports ?? []) {
      if (!listens.has(port.containerPort)) {
        problems.push(
          `${where}: containerPort ${port.containerPort} (${port.name ?? "unnamed"}) is not a port ${w.service} listens on (${[...listens].map(([p, v]) => `${v}=${p}`).join(", ")})`,
        );
      }
    }
    const probes = [
      ["liveness", container.livenessProbe, "/healthz"],
      ["readiness", container.readinessProbe, "/readyz"],
    ] as const;
    for (const [kind, probe, path] of probes) {
      const get = probe?.httpGet;
      if (get === undefined) {
        problems.push(`${where}: no ${kind} probe (httpGet ${path})`);
        continue;
      }
      if (get.path !== path)
        problems.push(`${where}: ${kind} probe path ${get.path} (the service serves ${path})`);
      const port = portNumber(container, get.port);
      if (port !== httpPort) {
        problems.push(`${where}: ${kind} probe on port ${String(get.port)}, not the HTTP_PORT ${httpPort}`);
      }
    }

    // Draining: SIGKILL only after the preStop pause and the service's own deadline.
    const deadlineSeconds = (effective(schema, vars, "SHUTDOWN_DEADLINE_MS") as number) / 1000;
    const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    const grace = w.template.spec?.terminationGracePeriodSeconds ?? 30;
    if (grace <= deadlineSeconds + preStop) {
      problems.push(
        `${where}: terminationGracePeriodSeconds ${grace} is not above SHUTDOWN_DEADLINE_MS (${deadlineSeconds} s) + preStop (${preStop} s)`,
      );
    }

    // The heap fits in the memory limit.
    const heap = /--max-old-space-size=(\d+)/.exec(vars.get("NODE_OPTIONS") ?? "")?.[1];
    const limit = mebibytes(container.resources?.limits?.memory);
    if (limit === undefined) problems.push(`${where}: no memory limit`);
    if (container.resources?.requests === undefined) problems.push(`${where}: no resource requests`);
    if (heap !== undefined && limit !== undefined && Number(heap) >= limit) {
      problems.push(`${where}: --max-old-space-size=${heap} is not below the memory limit (${limit} MiB)`);
    }

    // Non-root, read-only.
    if (w.template.spec?.securityContext?.runAsNonRoot !== true)
      problems.push(`${where}: runAsNonRoot is not set`);
    if (container.securityContext?.readOnlyRootFilesystem !== true) {
      problems.push(`${where}: readOnlyRootFilesystem is not set`);
    }

    if (vars.has("DELIVERY_ALLOW_LOOPBACK") && effective(schema, vars, "DELIVERY_ALLOW_LOOPBACK") !== false) {
      problems.push(`${where}: DELIVERY_ALLOW_LOOPBACK must be false in a cluster`);
    }
    // A gRPC port (gateway, log store) listens on every interface in a cluster: callers must prove who they are.
    if ("GRPC_AUTH_TOKEN" in schema && !vars.has("GRPC_AUTH_TOKEN") && !vars.has("GRPC_TLS_CLIENT_CA_FILE")) {
      problems.push(
        `${where}: its gRPC port takes any caller: set GRPC_AUTH_TOKEN (or GRPC_TLS_CLIENT_CA_FILE)`,
      );
    }

    // NATS: the URL names the NATS Services, and streams have no more replicas than servers.
    const natsUrl = String(effective(schema, vars, "NATS_URL"));
    for (const url of natsUrl.split(",")) {
      const problem = serviceAddressProblem(url.trim().replace(/^nats:\/\//, ""), services, all, (target) =>
        target.name === "nats" ? 4222 : undefined,
      );
      if (problem !== undefined) problems.push(`${where}: NATS_URL ${url}: ${problem}`);
    }
    const streamReplicas = effective(schema, vars, "STREAM_REPLICAS") as number;
    if (nats !== undefined && streamReplicas > (nats.spec?.replicas ?? 1)) {
      problems.push(
        `${where}: STREAM_REPLICAS ${streamReplicas} is more than the ${nats.spec?.replicas ?? 1} NATS servers`,
      );
    }

    if (w.service === "gateway") {
      problems.push(...(await gatewayProblems(where, w, container, vars, objects, schemas)));
    }
  }

  // Services: each selects pods, and each targetPort is a port of those pods.
  for (const svc of services) {
    const where = `Service/${svc.metadata?.name}`;
    const selected = all.filter((w) => matches(svc.spec?.selector, w.template.metadata?.labels));
    if (selected.length === 0) problems.push(`${where}: selects no pods`);
    for (const target of selected) {
      const container = target.template.spec?.containers[0];
      for (const port of svc.spec?.ports ?? []) {
        const targetPort = port.targetPort ?? port.port;
        if (container === undefined || portNumber(container, targetPort) === undefined) {
          problems.push(
            `${where}: targetPort ${String(targetPort)} is not a containerPort of ${target.kind}/${target.name}`,
          );
        }
      }
    }
  }

  for (const pdb of byKind<IPodDisruptionBudget>(objects, "PodDisruptionBudget")) {
    if (!all.some((w) => matches(pdb.spec?.selector?.matchLabels, w.template.metadata?.labels))) {
      problems.push(`PodDisruptionBudget/${pdb.metadata?.name}: selects no pods`);
    }
  }
  for (const w of [...heraldWorkloads, ...all.filter((x) => x.name === "nats")]) {
    const covered = byKind<IPodDisruptionBudget>(objects, "PodDisruptionBudget").some((pdb) =>
      matches(pdb.spec?.selector?.matchLabels, w.template.metadata?.labels),
    );
    if (!covered) problems.push(`${w.kind}/${w.name}: no PodDisruptionBudget`);
  }
  for (const hpa of byKind<IHorizontalPodAutoscaler>(objects, "HorizontalPodAutoscaler")) {
    const target = hpa.spec?.scaleTargetRef;
    if (!heraldWorkloads.some((w) => target?.kind === "Deployment" && w.name === target.name)) {
      problems.push(
        `HorizontalPodAutoscaler/${hpa.metadata?.name}: scales ${target?.kind}/${target?.name}, not in the manifests`,
      );
    }
  }

  if (nats !== undefined) problems.push(...natsProblems(nats, configMaps));
  return problems;
}

/** host:port must be a Service (or a StatefulSet pod behind its headless Service) and its port. */
function serviceAddressProblem(
  address: string,
  services: IService[],
  all: Workload[],
  expectedPort: (target: Workload) => number | undefined,
): string | undefined {
  const [host = "", portText] = address.split(":");
  const labels = host.split(".");
  // <svc>, <svc>.<ns>, <svc>.<ns>.svc...; or <pod>.<headless svc>... for a StatefulSet's pod.
  const direct = services.find((s) => s.metadata?.name === labels[0]);
  const headless = services.find((s) => s.metadata?.name === labels[1] && s.spec?.clusterIP === "None");
  const svc = direct ?? headless;
  if (svc === undefined) return `${host} is not a Service in the manifests`;
  const port = svc.spec?.ports?.find((p) => String(p.port) === portText);
  if (port === undefined) return `Service ${svc.metadata?.name} has no port ${portText}`;
  const targets = all.filter((w) => matches(svc.spec?.selector, w.template.metadata?.labels));
  for (const target of targets) {
    const container = target.template.spec?.containers[0];
    const containerPort =
      container === undefined ? undefined : portNumber(container, port.targetPort ?? port.port);
    const expected = expectedPort(target);
    if (expected !== undefined && containerPort !== expected) {
      return `port ${portText} reaches ${target.name}'s port ${containerPort}, not ${expected}`;
    }
  }
  return targets.length === 0 ? `Service ${svc.metadata?.name} selects no pods` : undefined;
}

async function gatewayProblems(
  where: string,
  w: Workload,
  container: IContainer,
  vars: Map<string, string | undefined>,
  objects: K8sObject[],
  schemas: Map<string, EnvSchema>,
): Promise<string[]> {
  const problems: string[] = [];
  const services = byKind<IService>(objects, "Service");
  const all = workloads(objects);
  const configMaps = new Map(byKind<IConfigMap>(objects, "ConfigMap").map((c) => [c.metadata?.name, c]));
  // LOGSTORE_ADDRESS: the logstore's Service, on the port that reaches its GRPC_PORT.
  const address = vars.get("LOGSTORE_ADDRESS");
  if (address === undefined) {
    problems.push(`${where}: LOGSTORE_ADDRESS is not set (the admin API's log routes would answer 503)`);
  } else {
    const problem = serviceAddressProblem(address, services, all, (target) => {
      const schema = target.service === undefined ? undefined : schemas.get(target.service);
      if (target.service !== "logstore" || schema === undefined) return -1;
      const c = target.template.spec?.containers[0];
      const logstoreVars = c === undefined ? new Map<string, string>() : resolveEnv(c, objects, "").vars;
      return effective(schema, logstoreVars, "GRPC_PORT") as number;
    });
    if (problem !== undefined) problems.push(`${where}: LOGSTORE_ADDRESS ${address}: ${problem}`);
  }
  // LOGSTORE_AUTH_TOKEN: the log store's GRPC_AUTH_TOKEN, taken from the same place.
  const logstore = all.find((t) => t.service === "logstore")?.template.spec?.containers[0];
  const sent = envSource(container, vars, "LOGSTORE_AUTH_TOKEN");
  const expected =
    logstore === undefined
      ? undefined
      : envSource(logstore, resolveEnv(logstore, objects, "").vars, "GRPC_AUTH_TOKEN");
  if (sent !== expected) {
    problems.push(
      `${where}: LOGSTORE_AUTH_TOKEN (${sent ?? "unset"}) is not the log store's GRPC_AUTH_TOKEN (${expected ?? "unset"})`,
    );
  }

  // HERALD_CONFIG: a file of a mounted ConfigMap, valid Herald YAML whose webhooksFile is there too.
  const file = vars.get("HERALD_CONFIG");
  if (file === undefined) return [...problems, `${where}: HERALD_CONFIG is not set`];
  const mount = (container.volumeMounts ?? []).find((m) =>
    file.startsWith(`${m.mountPath.replace(/\/$/, "")}/`),
  );
  const volume = w.template.spec?.volumes?.find((v) => v.name === mount?.name);
  const cm = configMaps.get(volume?.configMap?.name);
  if (mount === undefined || cm === undefined) {
    return [...problems, `${where}: HERALD_CONFIG ${file} is not in a mounted ConfigMap`];
  }
  const filesInMount = new Map<string, string>();
  for (const [key, text] of Object.entries(cm.data ?? {})) {
    const item = volume?.configMap?.items?.find((i) => i.key === key);
    if (volume?.configMap?.items !== undefined && item === undefined) continue;
    filesInMount.set(path.posix.join(mount.mountPath, item?.path ?? key), text);
  }
  const text = filesInMount.get(file);
  if (text === undefined)
    return [...problems, `${where}: HERALD_CONFIG ${file}: no such key in ConfigMap ${cm.metadata?.name}`];
  try {
    await parseHeraldConfig(text, {
      file,
      readFile: (p) => {
        const other = filesInMount.get(p);
        return other === undefined
          ? Promise.reject(new Error(`${p} is not in the ConfigMap`))
          : Promise.resolve(other);
      },
    });
  } catch (err) {
    problems.push(`${where}: HERALD_CONFIG ${file}: ${(err as Error).message}`);
  }
  return problems;
}

function natsProblems(nats: IStatefulSet, configMaps: Map<string | undefined, IConfigMap>): string[] {
  const problems: string[] = [];
  const replicas = nats.spec?.replicas ?? 1;
  const volume = nats.spec?.template.spec?.volumes?.find((v) => v.configMap !== undefined);
  const conf = configMaps.get(volume?.configMap?.name)?.data?.["nats.conf"];
  if (conf === undefined) return ["StatefulSet/nats: no nats.conf mounted"];
  if (!/jetstream\s*{/.test(conf)) problems.push("StatefulSet/nats: nats.conf has no jetstream block");
  if (nats.spec?.volumeClaimTemplates === undefined)
    problems.push("StatefulSet/nats: no volumeClaimTemplates");
  const routes = [...conf.matchAll(/nats:\/\/([a-z0-9-]+)-(\d+)\.([a-z0-9-]+):6222/g)];
  if (replicas === 1) {
    if (/cluster\s*{/.test(conf)) problems.push("StatefulSet/nats: one server with a cluster block");
  } else {
    for (let i = 0; i < replicas; i++) {
      const found = routes.some(
        (r) => r[1] === nats.metadata?.name && Number(r[2]) === i && r[3] === nats.spec?.serviceName,
      );
      if (!found)
        problems.push(
          `StatefulSet/nats: nats.conf has no route to ${nats.metadata?.name}-${i}.${nats.spec?.serviceName}`,
        );
    }
    if (routes.length !== replicas)
      problems.push(`StatefulSet/nats: ${routes.length} routes for ${replicas} servers`);
  }
  return problems;
}

// --- the Dockerfile ----------------------------------------------------------------------------

/** What the image must do, read from the Dockerfile's text (no Docker engine here to build it). */
function dockerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim());
  const instructions = lines.filter((l) => l !== "" && !l.startsWith("#"));
  const stages = instructions.reduce<string[][]>((acc, line) => {
    if (/^FROM\s/i.test(line)) acc.push([]);
    acc.at(-1)?.push(line);
    return acc;
  }, []);
  const runtime = stages.at(-1) ?? [];
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { packageManager: string };
  if (stages.length < 2) problems.push("not multi-stage");
  if (!/^ARG NODE_IMAGE=node:20-bookworm-slim$/m.test(text) && !/^FROM node:20-bookworm-slim/m.test(text)) {
    problems.push("not based on node:20-bookworm-slim");
  }
  if (!text.includes(`npm install --global ${pkg.packageManager}`)) {
    problems.push(`does not install ${pkg.packageManager} (package.json's packageManager)`);
  }
  if (!/pnpm install --frozen-lockfile/.test(text)) problems.push("no pnpm install --frozen-lockfile");
  for (const name of SERVICES) {
    if (!new RegExp(`tsc -b[^\n]*services/${name}\\b`).test(lines.join("\n"))) {
      problems.push(`does not build services/${name}`);
    }
  }
  for (const dir of ["packages/admin/panel", "packages/db/migrations"]) {
    if (!text.includes(`cp -a ${dir} `)) problems.push(`does not copy ${dir} into the image`);
  }
  const user = runtime
    .filter((l) => /^USER\s/i.test(l))
    .at(-1)
    ?.split(/\s+/)[1];
  if (user === undefined || /^(0|root)(:|$)/.test(user))
    problems.push(`runtime USER is ${user ?? "unset (root)"}`);
  if (!runtime.some((l) => /apt-get install .*\btini\b/.test(l)))
    problems.push("runtime stage does not install tini");
  const entrypoint = runtime.filter((l) => /^ENTRYPOINT\s/i.test(l)).at(-1) ?? "";
  if (!/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/.test(entrypoint))
    problems.push(`ENTRYPOINT is not tini: ${entrypoint}`);
  const cmd = runtime.filter((l) => /^CMD\s/i.test(l)).at(-1) ?? "";
  if (!/exec node \\?"?services\/\$\{SERVICE[^}]*\}\/dist\/main\.js/.test(cmd)) {
    problems.push(`CMD does not exec node services/$SERVICE/dist/main.js: ${cmd}`);
  }
  if (/\b(npm|pnpm|npx)\b/.test(`${entrypoint} ${cmd}`)) problems.push("the service runs under npm/pnpm");
  return problems;
}

// --- the tests ---------------------------------------------------------------------------------

const kubectl = kubectlPath();
let schemas: Map<string, EnvSchema>;

beforeAll(async () => {
  schemas = await loadSchemas();
});

it("the Dockerfile builds every service into one image that runs node under tini as a non-root user", () => {
  expect(SERVICES).toEqual(
    expect.arrayContaining(["gateway", "evaluator", "presence", "chatroom", "deliverer", "logstore"]),
  );
  expect(dockerfileProblems(readFileSync(path.join(root, "Dockerfile"), "utf8"))).toEqual([]);
  const ignored = readFileSync(path.join(root, ".dockerignore"), "utf8").split("\n");
  expect(ignored).toEqual(expect.arrayContaining(["**/node_modules", "**/dist"]));
});

it("the Dockerfile check catches a root user, a missing tini and a service left out", () => {
  const good = readFileSync(path.join(root, "Dockerfile"), "utf8");
  const bad = good
    .replace("USER 10001:10001", "USER root")
    .replace('ENTRYPOINT ["/usr/bin/tini", "--"]', 'ENTRYPOINT ["npm", "start"]')
    .replace("services/deliverer services/logstore", "services/logstore");
  const problems = dockerfileProblems(bad);
  expect(problems).toEqual(
    expect.arrayContaining([
      "runtime USER is root",
      'ENTRYPOINT is not tini: ENTRYPOINT ["npm", "start"]',
      "does not build services/deliverer",
      "the service runs under npm/pnpm",
    ]),
  );
});

// Without kubectl the rendering checks cannot run: say so in the report instead of failing.
if (kubectl === undefined)
  it.skip("deploy/ is NOT checked: kubectl (with kustomize) is not on PATH", () => {});

describe.skipIf(kubectl === undefined)("deploy/ rendered with kubectl kustomize", () => {
  const overlays = ["base", "overlays/dev", "overlays/production"];
  const rendered = new Map<string, K8sObject[]>();
  const scratch: string[] = [];

  beforeAll(() => {
    for (const dir of overlays) rendered.set(dir, render(path.join(deployDir, dir)));
  });
  afterAll(() => {
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  it.each(overlays)("%s: every object validates against the Kubernetes schemas", (dir) => {
    const objects = rendered.get(dir) ?? [];
    expect(objects.length).toBeGreaterThan(0);
    expect(validateSchemas(objects)).toEqual([]);
  });

  it.each(overlays)(
    "%s: the manifests agree with the services' env, ports, probes and deadlines",
    async (dir) => {
      expect(await crossCheck(rendered.get(dir) ?? [], schemas)).toEqual([]);
    },
  );

  it.each(overlays)(
    "%s: every service has a Deployment, a PodDisruptionBudget; the scalable ones an HPA",
    (dir) => {
      const objects = rendered.get(dir) ?? [];
      const running = workloads(objects).map((w) => w.service);
      expect(running).toEqual(expect.arrayContaining(SERVICES));
      const hpas = byKind<IHorizontalPodAutoscaler>(objects, "HorizontalPodAutoscaler").map(
        (h) => h.spec?.scaleTargetRef.name,
      );
      if (dir === "overlays/dev") expect(hpas).toEqual([]);
      else expect(hpas.sort()).toEqual(["deliverer", "evaluator", "gateway"]);
    },
  );

  // nats-server -t parses the config as the servers will (when nats-server is installed here).
  const natsServer = spawnSync("nats-server", ["--version"]).status === 0;
  it.skipIf(!natsServer).each(overlays)("%s: nats-server accepts the rendered nats.conf", (dir) => {
    const objects = rendered.get(dir) ?? [];
    const nats = byKind<IStatefulSet>(objects, "StatefulSet").find((s) => s.metadata?.name === "nats");
    const volume = nats?.spec?.template.spec?.volumes?.find((v) => v.configMap !== undefined);
    const conf = byKind<IConfigMap>(objects, "ConfigMap").find(
      (c) => c.metadata?.name === volume?.configMap?.name,
    )?.data?.["nats.conf"];
    expect(conf).toBeDefined();
    const scratchDir = mkdtempSync(path.join(tmpdir(), "herald-nats-conf-"));
    scratch.push(scratchDir);
    writeFileSync(path.join(scratchDir, "nats.conf"), conf ?? "");
    const checked = spawnSync("nats-server", ["-t", "-c", path.join(scratchDir, "nats.conf")], {
      encoding: "utf8",
      env: { ...process.env, SERVER_NAME: "nats-0" },
    });
    expect(`${checked.stdout}${checked.stderr}`).toContain("is valid");
  });

  it("production: three NATS servers, streams replicated three times, two or more of every service", () => {
    const objects = rendered.get("overlays/production") ?? [];
    const all = workloads(objects);
    expect(all.find((w) => w.name === "nats")?.replicas).toBe(3);
    for (const w of all.filter((x) => x.kind === "Deployment")) {
      expect(w.replicas, w.name).toBeGreaterThanOrEqual(2);
      const container = w.template.spec?.containers[0];
      const { vars } = resolveEnv(container ?? { name: "" }, objects, w.name);
      expect(vars.get("STREAM_REPLICAS"), w.name).toBe("3");
    }
    for (const hpa of byKind<IHorizontalPodAutoscaler>(objects, "HorizontalPodAutoscaler")) {
      expect(hpa.spec?.minReplicas ?? 1).toBeGreaterThanOrEqual(2);
    }
    // Secrets come from the cluster, never from the repository.
    expect(byKind<ISecret>(objects, "Secret")).toEqual([]);
    expect(all.find((w) => w.name === "postgres")).toBeUndefined();
  });

  it("dev: one node, one NATS server, stream replicas 1, example secrets and the reference Postgres", () => {
    const objects = rendered.get("overlays/dev") ?? [];
    const all = workloads(objects);
    expect(all.find((w) => w.name === "nats")?.replicas).toBe(1);
    expect(all.find((w) => w.name === "postgres")?.replicas).toBe(1);
    for (const w of all.filter((x) => x.kind === "Deployment")) {
      expect(w.replicas, w.name).toBe(1);
      const { vars } = resolveEnv(w.template.spec?.containers[0] ?? { name: "" }, objects, w.name);
      expect(vars.get("STREAM_REPLICAS"), w.name).toBe("1");
    }
    // The example DATABASE_URL reaches the reference Postgres.
    const logstore = all.find((w) => w.service === "logstore");
    const { vars } = resolveEnv(logstore?.template.spec?.containers[0] ?? { name: "" }, objects, "logstore");
    const database = new URL(vars.get("DATABASE_URL") ?? "");
    const services = byKind<IService>(objects, "Service");
    expect(
      serviceAddressProblem(`${database.hostname}:${database.port}`, services, all, (w) =>
        w.name === "postgres" ? 5432 : undefined,
      ),
    ).toBeUndefined();
    const secrets = byKind<ISecret>(objects, "Secret");
    for (const secret of secrets) {
      for (const value of Object.values(secret.data ?? {})) {
        expect(Buffer.from(value, "base64").toString("utf8")).toContain("CHANGE-ME");
      }
    }
  });

  // Each broken copy is the dev overlay with one patch, rendered from a scratch directory.
  const breakages: { what: string; patch: string; expected: RegExp }[] = [
    {
      what: "a readiness probe on a path the service does not serve",
      patch: jsonPatch("Deployment", "evaluator", [
        {
          op: "replace",
          path: "/spec/template/spec/containers/0/readinessProbe/httpGet/path",
          value: "/ready",
        },
      ]),
      expected: /Deployment\/evaluator: readiness probe path \/ready \(the service serves \/readyz\)/,
    },
    {
      what: "a liveness probe on a port that is not HTTP_PORT",
      patch: jsonPatch("Deployment", "gateway", [
        {
          op: "replace",
          path: "/spec/template/spec/containers/0/livenessProbe/httpGet/port",
          value: "admin",
        },
      ]),
      expected: /Deployment\/gateway: liveness probe on port admin, not the HTTP_PORT 8080/,
    },
    {
      what: "a containerPort the service does not listen on",
      patch: jsonPatch("Deployment", "gateway", [
        { op: "replace", path: "/spec/template/spec/containers/0/ports/0/containerPort", value: 50053 },
      ]),
      expected: /Deployment\/gateway: containerPort 50053 \(grpc\) is not a port gateway listens on/,
    },
    {
      what: "an env variable the service does not read",
      patch: jsonPatch("Deployment", "deliverer", [
        {
          op: "add",
          path: "/spec/template/spec/containers/0/env/-",
          value: { name: "DELIVERY_TIMEOUT_MS", value: "5000" },
        },
      ]),
      expected: /Deployment\/deliverer: env DELIVERY_TIMEOUT_MS is not a variable deliverer reads/,
    },
    {
      what: "an invalid env value",
      patch: jsonPatch("Deployment", "presence", [
        {
          op: "add",
          path: "/spec/template/spec/containers/0/env/-",
          value: { name: "PROJECTION_LEASE_MS", value: "10" },
        },
      ]),
      expected: /Deployment\/presence: env PROJECTION_LEASE_MS is invalid/,
    },
    {
      what: "a Service whose targetPort is no port of its pods",
      patch: jsonPatch("Service", "logstore", [
        { op: "replace", path: "/spec/ports/0/targetPort", value: "gprc" },
      ]),
      expected: /Service\/logstore: targetPort gprc is not a containerPort of Deployment\/logstore/,
    },
    {
      what: "LOGSTORE_ADDRESS on the gateway's gRPC port",
      patch: jsonPatch("Deployment", "gateway", [
        { op: "replace", path: "/spec/template/spec/containers/0/env/4/value", value: "logstore:50051" },
      ]),
      expected: /Deployment\/gateway: LOGSTORE_ADDRESS logstore:50051: Service logstore has no port 50051/,
    },
    {
      what: "a log store whose gRPC port takes any caller",
      patch: jsonPatch("Deployment", "logstore", [
        {
          op: "replace",
          path: "/spec/template/spec/containers/0/env/3/name",
          value: "GRPC_AUTH_TOKEN_UNUSED",
        },
      ]),
      expected: /Deployment\/logstore: its gRPC port takes any caller/,
    },
    {
      what: "a gateway that sends the log store a token it does not take",
      patch: jsonPatch("Deployment", "gateway", [
        {
          op: "replace",
          path: "/spec/template/spec/containers/0/env/8/valueFrom/secretKeyRef/key",
          value: "GRPC_AUTH_TOKEN",
        },
      ]),
      expected:
        /Deployment\/gateway: LOGSTORE_AUTH_TOKEN \(Secret herald-secrets-\w+ key GRPC_AUTH_TOKEN\) is not the log store's GRPC_AUTH_TOKEN \(Secret herald-secrets-\w+ key LOGSTORE_AUTH_TOKEN\)/,
    },
    {
      what: "a grace period shorter than the drain deadline",
      patch: jsonPatch("Deployment", "chatroom", [
        { op: "replace", path: "/spec/template/spec/terminationGracePeriodSeconds", value: 10 },
      ]),
      expected: /Deployment\/chatroom: terminationGracePeriodSeconds 10 is not above SHUTDOWN_DEADLINE_MS/,
    },
    {
      what: "HERALD_CONFIG outside the mounted ConfigMap",
      patch: jsonPatch("Deployment", "gateway", [
        {
          op: "replace",
          path: "/spec/template/spec/containers/0/env/3/value",
          value: "/etc/herald/apps.yaml",
        },
      ]),
      expected: /Deployment\/gateway: HERALD_CONFIG \/etc\/herald\/apps.yaml: no such key/,
    },
    {
      what: "a field of the wrong type (schema validation)",
      patch: jsonPatch("Deployment", "evaluator", [{ op: "replace", path: "/spec/replicas", value: "two" }]),
      expected: /Deployment\/evaluator: .*replicas must be integer/,
    },
  ];

  it.each(breakages)("fails on $what", async ({ patch, expected }) => {
    const dir = mkdtempSync(path.join(tmpdir(), "herald-deploy-"));
    scratch.push(dir);
    writeFileSync(
      path.join(dir, "kustomization.yaml"),
      [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "resources:",
        `  - ${path.relative(dir, path.join(deployDir, "overlays/dev"))}`,
        "patches:",
        patch,
      ].join("\n"),
    );
    const objects = render(dir);
    const problems = [...validateSchemas(objects), ...(await crossCheck(objects, schemas))];
    expect(problems.join("\n")).toMatch(expected);
  });
});

function jsonPatch(kind: string, name: string, ops: { op: string; path: string; value: unknown }[]): string {
  return [
    "  - target:",
    `      kind: ${kind}`,
    `      name: ${name}`,
    `    patch: '${JSON.stringify(ops)}'`,
  ].join("\n");
}
