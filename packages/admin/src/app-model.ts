import {
  impliedOpenImEndpoint,
  putApp,
  readAppEntry,
  type AppConfig,
  type EndpointConfig,
} from "@herald/config";
import { dialectOf, parseGrpcTarget, type HookProvider } from "@herald/dialects";
import {
  appEgressPolicy,
  checkDestinationHost,
  checkDestinationUrl,
  DestinationRefusedError,
} from "@herald/egress";
import { ValidationError } from "@herald/runtime";
import type { AdminContext } from "./context.js";
import { appNotFound, notFound } from "./errors.js";

// The revision an app was read at rides along on the value under a symbol: object spreads
// (`{ ...stored, endpoints }`) keep it, JSON and validation ignore it, and saveApp finds it there.
const READ_AT = Symbol("revision the app was read at");
type ReadApp = AppConfig & { [READ_AT]?: number };

export async function loadApp(ctx: AdminContext, appId: string): Promise<AppConfig> {
  const entry = await readAppEntry(ctx.bus, appId);
  if (entry === undefined) throw appNotFound(appId);
  const app: ReadApp = { ...entry.app, [READ_AT]: entry.revision };
  return app;
}

/**
 * Writes an app as the admin API's: validated and filled by putApp, owned by the API from now on. A
 * change to an app read with loadApp is written only if nobody wrote the app since (409 otherwise).
 */
export async function saveApp(ctx: AdminContext, app: AppConfig): Promise<void> {
  const previousRevision = (app as ReadApp)[READ_AT];
  await putApp(
    ctx.bus,
    { ...app, source: "api" },
    previousRevision === undefined ? {} : { previousRevision },
  );
}

export interface FoundEndpoint {
  endpoint: EndpointConfig;
  /** Derived from the hook settings: read-only here, changed through /hooks. */
  implied: boolean;
}

/** Every endpoint the deliverer sends the app's events to, the implied one last. */
export function endpointsOf(app: AppConfig): FoundEndpoint[] {
  const implied = impliedOpenImEndpoint(app);
  return [
    ...app.endpoints.map((endpoint) => ({ endpoint, implied: false })),
    ...(implied === undefined ? [] : [{ endpoint: implied, implied: true }]),
  ];
}

export function findEndpoint(app: AppConfig, endpointId: string): FoundEndpoint {
  const found = endpointsOf(app).find((e) => e.endpoint.id === endpointId);
  if (found === undefined) {
    throw notFound("endpointId", `endpoint ${JSON.stringify(endpointId)} of app ${app.appId} not found`);
  }
  return found;
}

/**
 * Refuses a URL the deliverer would refuse (SSRF rules: the app's policy, loopback only when the
 * gateway allows it), at save time rather than at the first delivery.
 */
export async function checkUrl(
  ctx: AdminContext,
  url: string,
  app: { readonly allowPrivateDestinations: boolean },
  field = "url",
): Promise<void> {
  await refusalAt(field, checkDestinationUrl(url, appEgressPolicy(app, ctx.allowLoopback)));
}

/**
 * Refuses a gRPC hook provider target the evaluator would refuse (the same SSRF rules as checkUrl);
 * targets in `checked` (the stored ones, while the policy stays) are not resolved again.
 */
export async function checkProviderTargets(
  ctx: AdminContext,
  provider: HookProvider | undefined,
  app: { readonly allowPrivateDestinations: boolean },
  field: string,
  checked: readonly string[] = [],
): Promise<void> {
  for (const [i, target] of (provider?.targets ?? []).entries()) {
    if (checked.includes(target)) continue;
    const at = `${field}.targets.${i}`;
    const parsed = parseGrpcTarget(target);
    if (typeof parsed === "string") throw new ValidationError(`${at}: ${parsed}`, { field: at });
    const policy = appEgressPolicy(app, ctx.allowLoopback);
    await refusalAt(at, checkDestinationHost(parsed.host, policy, at));
  }
}

async function refusalAt(field: string, check: Promise<void>): Promise<void> {
  try {
    await check;
  } catch (err) {
    if (err instanceof ValidationError || err instanceof DestinationRefusedError) {
      throw new ValidationError(err.message, { field, cause: err });
    }
    throw err;
  }
}

/** "whsec_…abcd": the prefix and the last 4 characters, enough to tell secrets apart, not to use one. */
export function redactSecret(value: string): string {
  const prefix = /^[A-Za-z]+_/.exec(value)?.[0] ?? "";
  const rest = value.slice(prefix.length);
  return rest.length <= 8 ? `${prefix}…` : `${prefix}…${rest.slice(-4)}`;
}

export function redactEndpoint(endpoint: EndpointConfig): EndpointConfig {
  const settings = dialectOf(endpoint.dialect).settings;
  const block = settings === undefined ? undefined : blockOf(endpoint, settings.key);
  return {
    ...endpoint,
    secrets: endpoint.secrets.map((s) => ({ ...s, value: redactSecret(s.value) })),
    ...(settings === undefined || block === undefined
      ? {}
      : {
          [settings.key]: {
            ...block,
            ...Object.fromEntries(
              settings.secretFields
                .filter((field) => typeof block[field] === "string")
                .map((field) => [field, redactSecret(block[field] as string)]),
            ),
          },
        }),
  };
}

export function redactApp(app: AppConfig): AppConfig {
  return { ...app, endpoints: app.endpoints.map(redactEndpoint) };
}

/**
 * An endpoint body may carry back the redacted secrets a GET showed (edit and save): each redacted value
 * that matches one of the stored endpoint's secrets stands for that secret (the whsec_ list, and the
 * secret fields of the dialect's own block: a RongCloud appSecret, a Tencent token).
 */
export function restoreSecrets(input: unknown, stored: EndpointConfig | undefined): unknown {
  if (stored === undefined || typeof input !== "object" || input === null) return input;
  const body = { ...(input as Record<string, unknown>) };
  if (Array.isArray(body["secrets"])) {
    body["secrets"] = body["secrets"].map((item: unknown) => {
      const value = (item as { value?: unknown } | null)?.value;
      const match = stored.secrets.find((s) => typeof value === "string" && redactSecret(s.value) === value);
      return match === undefined ? item : { ...(item as object), value: match.value };
    });
  }
  const settings = dialectOf(stored.dialect).settings;
  const storedBlock = settings === undefined ? undefined : blockOf(stored, settings.key);
  const given = settings === undefined ? undefined : body[settings.key];
  if (settings !== undefined && storedBlock !== undefined && typeof given === "object" && given !== null) {
    const block = { ...(given as Record<string, unknown>) };
    for (const field of settings.secretFields) {
      const kept = storedBlock[field];
      if (typeof kept === "string" && block[field] === redactSecret(kept)) block[field] = kept;
    }
    body[settings.key] = block;
  }
  return body;
}

function blockOf(endpoint: EndpointConfig, key: string): Record<string, unknown> | undefined {
  const block = (endpoint as unknown as Record<string, unknown>)[key];
  return typeof block === "object" && block !== null ? (block as Record<string, unknown>) : undefined;
}
