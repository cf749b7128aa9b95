import { randomBytes } from "node:crypto";
import { z } from "zod";
import { endpointStateOf, forgetEndpointState, setEndpointState } from "@herald/deliveries";
import { validateEndpoint, type AppConfig, type EndpointConfig, type EndpointState } from "@herald/config";
import { DIALECT_DEFINITIONS, dialectOf } from "@herald/dialects";
import type { DialectDefinition } from "@herald/dialects";
import { ConflictError, ValidationError } from "@herald/runtime";
import {
  checkUrl,
  endpointsOf,
  findEndpoint,
  loadApp,
  redactEndpoint,
  restoreSecrets,
  saveApp,
} from "./app-model.js";
import type { AdminApp, AdminContext } from "./context.js";
import { endpointBody, endpointParams, endpointPatchBody, appParams } from "./schemas.js";
import { registerTestEventRoute } from "./test-event.js";

const DAY_MS = 86_400_000;

/** A dialect as GET /v1/dialects shows it: what it is, what it says, its defaults and a template. */
function describeDialect(d: DialectDefinition) {
  return {
    dialect: d.name,
    title: d.title,
    summary: d.summary,
    renders: d.renders,
    settingsKey: d.settings?.key ?? null,
    signsWithSecrets: d.signsWithSecrets,
    maxBatchRecords: d.maxBatchRecords,
    defaults: d.defaults,
    template: d.template,
  };
}

/** An endpoint with no state on record is active. */
export async function stateOf(ctx: AdminContext, appId: string, endpointId: string) {
  return endpointStateOf(ctx.bus, appId, endpointId);
}

/** Endpoints: CRUD, their state (enable, disable), secret rotation and test events. */
export function registerEndpointRoutes(app: AdminApp, ctx: AdminContext): void {
  const view = async (appId: string, endpoint: EndpointConfig, implied: boolean) => ({
    ...redactEndpoint(endpoint),
    ...(implied ? { implied: true } : {}),
    state: await stateOf(ctx, appId, endpoint.id),
  });

  app.get(
    "/v1/dialects",
    {
      config: { access: "authenticated" },
      schema: {
        tags: ["endpoints"],
        summary: "What each dialect's endpoints get for the settings a body leaves out",
      },
    },
    // From the dialect registry, so a form can offer a template and say what leaving a field out means.
    () => ({ dialects: DIALECT_DEFINITIONS.map(describeDialect) }),
  );

  app.get(
    "/v1/apps/:appId/endpoints",
    {
      config: { access: "app" },
      schema: { tags: ["endpoints"], summary: "Endpoints with their state", params: appParams },
    },
    async (request) => {
      const found = await loadApp(ctx, request.params.appId);
      const endpoints = [];
      for (const { endpoint, implied } of endpointsOf(found)) {
        endpoints.push(await view(found.appId, endpoint, implied));
      }
      return { endpoints };
    },
  );

  app.post(
    "/v1/apps/:appId/endpoints",
    {
      config: { access: "app" },
      schema: { tags: ["endpoints"], summary: "Create an endpoint", params: appParams, body: endpointBody },
    },
    async (request, reply) => {
      const stored = await loadApp(ctx, request.params.appId);
      const body = request.body;
      if (stored.endpoints.some((e) => e.id === body.id)) {
        throw new ConflictError(`endpoint ${JSON.stringify(body.id)} exists; PUT or PATCH it`);
      }
      const endpoint = validateEndpoint(body);
      await checkUrl(ctx, endpoint.url, stored);
      // The body, not `endpoint`: an openim endpoint that sets no URL style takes the app's.
      await saveApp(ctx, { ...stored, endpoints: [...stored.endpoints, body as unknown as EndpointConfig] });
      reply.code(201);
      return view(stored.appId, savedEndpoint(await loadApp(ctx, stored.appId), body.id), false);
    },
  );

  app.get(
    "/v1/apps/:appId/endpoints/:endpointId",
    {
      config: { access: "app" },
      schema: { tags: ["endpoints"], summary: "An endpoint with its state", params: endpointParams },
    },
    async (request) => {
      const { endpoint, implied } = findEndpoint(
        await loadApp(ctx, request.params.appId),
        request.params.endpointId,
      );
      return view(request.params.appId, endpoint, implied);
    },
  );

  const replace = async (appId: string, endpointId: string, merge: (old: EndpointConfig) => unknown) => {
    const stored = await loadApp(ctx, appId);
    const { endpoint: old } = explicitEndpoint(stored, endpointId);
    const raw = restoreSecrets(merge(old), old) as Record<string, unknown>;
    if (raw["id"] !== undefined && raw["id"] !== endpointId) {
      throw new ValidationError(`id: the path names endpoint ${endpointId}`, { field: "id" });
    }
    const next = validateEndpoint({ ...raw, id: endpointId });
    if (next.url !== old.url) await checkUrl(ctx, next.url, stored);
    const endpoints = stored.endpoints.map((e) =>
      e.id === endpointId ? ({ ...raw, id: endpointId } as unknown as EndpointConfig) : e,
    );
    await saveApp(ctx, { ...stored, endpoints });
    return view(appId, savedEndpoint(await loadApp(ctx, appId), endpointId), false);
  };

  app.put(
    "/v1/apps/:appId/endpoints/:endpointId",
    {
      config: { access: "app" },
      schema: {
        tags: ["endpoints"],
        summary: "Replace an endpoint",
        params: endpointParams,
        body: endpointBody.extend({ id: endpointBody.shape.id.optional() }),
      },
    },
    async (request) => replace(request.params.appId, request.params.endpointId, () => request.body),
  );

  app.patch(
    "/v1/apps/:appId/endpoints/:endpointId",
    {
      config: { access: "app" },
      schema: {
        tags: ["endpoints"],
        summary: "Change top-level fields of an endpoint",
        params: endpointParams,
        body: endpointPatchBody,
      },
    },
    async (request) =>
      replace(request.params.appId, request.params.endpointId, (old) => ({ ...old, ...request.body })),
  );

  app.delete(
    "/v1/apps/:appId/endpoints/:endpointId",
    {
      config: { access: "app" },
      schema: { tags: ["endpoints"], summary: "Delete an endpoint", params: endpointParams },
    },
    async (request, reply) => {
      const { appId, endpointId } = request.params;
      const stored = await loadApp(ctx, appId);
      explicitEndpoint(stored, endpointId);
      await saveApp(ctx, { ...stored, endpoints: stored.endpoints.filter((e) => e.id !== endpointId) });
      await forgetEndpointState(ctx.bus, appId, endpointId);
      return reply.code(204).send();
    },
  );

  const setState = async (appId: string, endpointId: string, state: EndpointState) => {
    findEndpoint(await loadApp(ctx, appId), endpointId);
    await setEndpointState(ctx.bus, appId, endpointId, state);
    return { state: await stateOf(ctx, appId, endpointId) };
  };

  app.post(
    "/v1/apps/:appId/endpoints/:endpointId/enable",
    {
      config: { access: "app" },
      schema: { tags: ["endpoints"], summary: "Enable (or re-enable) an endpoint", params: endpointParams },
    },
    async (request) =>
      // A fresh state: the failure clock (failingSince) starts again too.
      setState(request.params.appId, request.params.endpointId, {
        state: "active",
        reason: "",
        since: new Date().toISOString(),
      }),
  );

  app.post(
    "/v1/apps/:appId/endpoints/:endpointId/disable",
    {
      config: { access: "app" },
      schema: {
        tags: ["endpoints"],
        summary: "Disable an endpoint (its jobs die at once, no HTTP)",
        params: endpointParams,
        body: z.object({ reason: z.string().max(500).optional() }).nullish(),
      },
    },
    async (request) => {
      const reason = request.body?.reason?.trim() ?? "";
      return setState(request.params.appId, request.params.endpointId, {
        state: "disabled",
        reason: reason === "" ? "disabled by operator" : `disabled by operator: ${reason}`,
        since: new Date().toISOString(),
      });
    },
  );

  app.post(
    "/v1/apps/:appId/endpoints/:endpointId/pause",
    {
      config: { access: "app" },
      schema: {
        tags: ["endpoints"],
        summary: "Pause an endpoint until a time (its jobs wait, nothing is lost); enable resumes it sooner",
        params: endpointParams,
        body: z.object({
          until: z.iso
            .datetime({ offset: true })
            .describe("when sending resumes (ISO 8601, at most 30 days ahead)"),
          reason: z.string().max(500).optional(),
        }),
      },
    },
    async (request) => {
      const until = Date.parse(request.body.until);
      const now = Date.now();
      if (until <= now || until > now + 30 * DAY_MS) {
        throw new ValidationError("until: must be in the future and at most 30 days ahead", {
          field: "until",
        });
      }
      const reason = request.body.reason?.trim() ?? "";
      return setState(request.params.appId, request.params.endpointId, {
        state: "paused",
        until: new Date(until).toISOString(),
        reason: reason === "" ? "paused by operator" : `paused by operator: ${reason}`,
        since: new Date(now).toISOString(),
      });
    },
  );

  app.post(
    "/v1/apps/:appId/endpoints/:endpointId/rotate-secret",
    {
      config: { access: "app" },
      schema: {
        tags: ["endpoints"],
        summary: "Rotate a standard endpoint's secret; the old ones stay valid for overlapMs",
        params: endpointParams,
        body: z
          .object({
            overlapMs: z
              .int()
              .min(0)
              .max(30 * DAY_MS)
              .optional(),
          })
          .nullish(),
      },
    },
    async (request) => {
      const { appId, endpointId } = request.params;
      const stored = await loadApp(ctx, appId);
      const { endpoint } = explicitEndpoint(stored, endpointId);
      if (!dialectOf(endpoint.dialect).signsWithSecrets) {
        const signed = DIALECT_DEFINITIONS.filter((d) => d.signsWithSecrets).map((d) => d.name);
        throw new ValidationError(
          `dialect: only ${signed.join(", ")} endpoints have secrets, not ${endpoint.dialect}`,
          { field: "dialect" },
        );
      }
      const now = Date.now();
      const until = new Date(now + (request.body?.overlapMs ?? DAY_MS)).toISOString();
      const secret = `whsec_${randomBytes(24).toString("base64")}`;
      const kept = endpoint.secrets
        .filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > now)
        .map((s) => ({
          value: s.value,
          expiresAt:
            s.expiresAt !== undefined && Date.parse(s.expiresAt) < Date.parse(until) ? s.expiresAt : until,
        }));
      const rotated = { ...endpoint, secrets: [{ value: secret }, ...kept] };
      await saveApp(ctx, {
        ...stored,
        endpoints: stored.endpoints.map((e) => (e.id === endpointId ? rotated : e)),
      });
      return { secret };
    },
  );

  registerTestEventRoute(app, ctx);
}

/** An endpoint the API may change: one of the app's own, not the one its hook settings imply. */
function explicitEndpoint(app: AppConfig, endpointId: string) {
  const found = findEndpoint(app, endpointId);
  if (found.implied) {
    throw new ConflictError(
      `endpoint ${endpointId} is implied by the app's OpenIM hook settings: change them with /hooks`,
    );
  }
  return found;
}

function savedEndpoint(app: AppConfig, endpointId: string): EndpointConfig {
  return findEndpoint(app, endpointId).endpoint;
}
