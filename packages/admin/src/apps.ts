import { z } from "zod";
import { forgetEndpointState } from "@herald/deliveries";
import {
  deleteApp,
  fileStatusOfApp,
  readApp,
  returnAppToFile,
  validateAppConfig,
  type AppConfig,
} from "@herald/config";
import { ConflictError, ValidationError } from "@herald/runtime";
import { createAppKey, deleteAppKey, deleteAppKeys, listAppKeys } from "./app-keys.js";
import { BEFORE_DIALECTS, beforeBlockOf } from "@herald/dialects";
import type { DialectBefore } from "@herald/dialects";
import {
  checkProviderTargets,
  checkUrl,
  endpointsOf,
  loadApp,
  redactApp,
  restoreSecrets,
  saveApp,
} from "./app-model.js";
import { visibleApp } from "./auth.js";
import type { AdminApp, AdminContext } from "./context.js";
import { notFound } from "./errors.js";
import { appBody, appParams } from "./schemas.js";

const APPS_PREFIX = "apps.";

/** Apps and their keys. Creating, replacing and deleting apps and keys is for the admin token only. */
export function registerAppRoutes(app: AdminApp, ctx: AdminContext): void {
  app.get(
    "/v1/apps",
    { config: { access: "authenticated" }, schema: { tags: ["apps"], summary: "List apps" } },
    async (request) => {
      const only = visibleApp(request);
      const ids = only === undefined ? await appIds(ctx) : [only];
      const apps: AppConfig[] = [];
      for (const id of ids) {
        const found = await readApp(ctx.bus, id);
        if (found !== undefined) apps.push(found);
      }
      const listed = [];
      for (const a of apps) {
        listed.push({
          appId: a.appId,
          source: a.source,
          endpointCount: endpointsOf(a).length,
          hasOpenIm: a.openim !== undefined,
          ...(await fileField(ctx, a)),
        });
      }
      return { apps: listed };
    },
  );

  app.get(
    "/v1/apps/:appId",
    {
      config: { access: "app" },
      schema: {
        tags: ["apps"],
        summary: "An app, secrets redacted",
        description:
          "`source` says who owns the app: `file` (HERALD_CONFIG) or `api` (an admin edit, which the " +
          "file's later changes do not override). `file` is present when the config file declares the " +
          "app; `file.differs` says its version differs from the one in force.",
        params: appParams,
      },
    },
    async (request) => appView(ctx, await loadApp(ctx, request.params.appId)),
  );

  app.post(
    "/v1/apps/:appId/return-to-file",
    {
      config: { access: "admin" },
      schema: {
        tags: ["apps"],
        summary: "Hand an app back to the config file",
        description:
          "The file's version of the app replaces the one in force (edits through the API are lost) and " +
          "the file's later changes apply again. 404 when the config file does not declare the app.",
        params: appParams,
      },
    },
    async (request) => {
      const { appId } = request.params;
      const app = await returnAppToFile(ctx.bus, appId);
      if (app === undefined) throw notFound("appId", `app ${appId} is not declared in the config file`);
      ctx.log.info({ appId }, "app handed back to the config file");
      return appView(ctx, app);
    },
  );

  app.put(
    "/v1/apps/:appId",
    {
      config: { access: "admin" },
      schema: { tags: ["apps"], summary: "Create or replace an app", params: appParams, body: appBody },
    },
    async (request, reply) => {
      const { appId } = request.params;
      const body = request.body as Record<string, unknown>;
      for (const field of ["appId", "source"]) {
        if (field in body) throw new ValidationError(`${field}: set by the API, not the body`, { field });
      }
      const stored = await readApp(ctx.bus, appId);
      const storedById = new Map(stored?.endpoints.map((e) => [e.id, e]));
      const endpoints = Array.isArray(body["endpoints"])
        ? body["endpoints"].map((e: unknown) =>
            restoreSecrets(e, storedById.get(String((e as { id?: unknown } | null)?.id))),
          )
        : body["endpoints"];
      const candidate = validateAppConfig({ ...body, endpoints, appId, source: "api" });
      const inputIds = Array.isArray(endpoints) ? endpoints.map((e) => (e as { id?: unknown }).id) : [];
      await checkNewUrls(ctx, candidate, stored, inputIds);
      await saveApp(ctx, candidate);
      reply.code(stored === undefined ? 201 : 200);
      return appView(ctx, await loadApp(ctx, appId));
    },
  );

  app.delete(
    "/v1/apps/:appId",
    {
      config: { access: "admin" },
      schema: {
        tags: ["apps"],
        summary: "Delete an app",
        description: "409 for an app the config file declares: it is removed from the file instead.",
        params: appParams,
      },
    },
    async (request, reply) => {
      const existing = await loadApp(ctx, request.params.appId);
      // The file would put it back at its next reload or the gateway's next start.
      if ((await fileStatusOfApp(ctx.bus, existing)) !== undefined) {
        throw new ConflictError(
          `app ${existing.appId} is declared in the config file; remove it there to delete it`,
        );
      }
      await deleteApp(ctx.bus, existing.appId);
      await deleteAppKeys(ctx.bus, existing.appId);
      // A re-created app starts clean: no endpoint disabled by its predecessor's history.
      for (const { endpoint } of endpointsOf(existing)) {
        await forgetEndpointState(ctx.bus, existing.appId, endpoint.id);
      }
      return reply.code(204).send();
    },
  );

  app.get(
    "/v1/apps/:appId/keys",
    {
      config: { access: "admin" },
      schema: { tags: ["apps"], summary: "An app's keys: ids and creation times", params: appParams },
    },
    async (request) => {
      const existing = await loadApp(ctx, request.params.appId);
      return { keys: await listAppKeys(ctx.bus, existing.appId) };
    },
  );

  app.post(
    "/v1/apps/:appId/keys",
    {
      config: { access: "admin" },
      schema: { tags: ["apps"], summary: "Create an app key (shown once)", params: appParams },
    },
    async (request, reply) => {
      const existing = await loadApp(ctx, request.params.appId);
      reply.code(201);
      return createAppKey(ctx.bus, existing.appId);
    },
  );

  app.delete(
    "/v1/apps/:appId/keys/:keyId",
    {
      config: { access: "admin" },
      schema: {
        tags: ["apps"],
        summary: "Revoke an app key",
        params: appParams.extend({ keyId: z.string().regex(/^[0-9a-f]{1,32}$/, "not a key id") }),
      },
    },
    async (request, reply) => {
      await deleteAppKey(ctx.bus, request.params.appId, request.params.keyId);
      return reply.code(204).send();
    },
  );
}

/** `file: {differs}` when the config file declares the app, else nothing. */
async function fileField(ctx: AdminContext, app: AppConfig): Promise<{ file?: { differs: boolean } }> {
  const file = await fileStatusOfApp(ctx.bus, app);
  return file === undefined ? {} : { file };
}

/** An app as the API shows it: secrets redacted, and how it stands against the config file. */
async function appView(ctx: AdminContext, app: AppConfig) {
  return { ...redactApp(app), ...(await fileField(ctx, app)) };
}

async function appIds(ctx: AdminContext): Promise<string[]> {
  const kv = await ctx.bus.kv(ctx.bus.names.buckets.config);
  const ids: string[] = [];
  for await (const key of await kv.keys(`${APPS_PREFIX}>`)) ids.push(key.slice(APPS_PREFIX.length));
  return ids.sort();
}

/**
 * Checks the URLs that are new or changed, or all of them when the app's policy narrows (a stored URL
 * whose host stopped resolving must not block other edits). Fields name the body's own list index.
 */
async function checkNewUrls(
  ctx: AdminContext,
  app: AppConfig,
  stored: AppConfig | undefined,
  inputIds: unknown[],
): Promise<void> {
  const allowPrivate = app.allowPrivateDestinations;
  const before = new Map(stored?.endpoints.map((e) => [e.id, e.url]));
  const narrowed = stored !== undefined && stored.allowPrivateDestinations && !allowPrivate;
  for (const endpoint of app.endpoints) {
    if (!narrowed && before.get(endpoint.id) === endpoint.url) continue;
    await checkUrl(ctx, endpoint.url, app, `endpoints.${inputIds.indexOf(endpoint.id)}.url`);
  }
  // Each before-hook dialect's block (openim, tencent) calls its url, and its provider's targets.
  for (const dialect of BEFORE_DIALECTS) {
    const url = blockUrl(app, dialect);
    if (url !== undefined && (narrowed || url !== (stored && blockUrl(stored, dialect)))) {
      await checkUrl(ctx, url, app, `${dialect.appKey}.url`);
    }
    const block = beforeBlockOf(app, dialect);
    if (block === undefined) continue;
    const storedBlock = stored && beforeBlockOf(stored, dialect);
    const checked = narrowed || storedBlock === undefined ? [] : dialect.providerOf(storedBlock)?.targets;
    await checkProviderTargets(ctx, dialect.providerOf(block), app, `${dialect.appKey}.provider`, checked);
  }
}

function blockUrl(app: AppConfig, dialect: DialectBefore): string | undefined {
  const url = (beforeBlockOf(app, dialect) as { url?: unknown } | undefined)?.url;
  return typeof url === "string" ? url : undefined;
}
