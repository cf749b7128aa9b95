import { parseOpenImWebhooks, validateAppConfig, type AppConfig } from "@herald/config";
import { ValidationError } from "@herald/runtime";
import { checkProviderTargets, checkUrl, loadApp, saveApp } from "./app-model.js";
import type { AdminApp, AdminContext } from "./context.js";
import { notFound, refield } from "./errors.js";
import { appParams, openImBody } from "./schemas.js";
import { toOpenImWebhooksYaml } from "./webhooks-yaml.js";

const YAML_TYPES = ["text/yaml", "application/yaml", "application/x-yaml"];

function openImOf(app: AppConfig): NonNullable<AppConfig["openim"]> {
  if (app.openim === undefined) throw notFound("openim", `app ${app.appId} has no OpenIM hook settings`);
  return app.openim;
}

/** The app's OpenIM hook settings, as JSON or as OpenIM's own webhooks.yml. */
export function registerHookRoutes(app: AdminApp, ctx: AdminContext): void {
  // Bytes, not text: @herald/config refuses invalid UTF-8 rather than letting it be replaced.
  app.addContentTypeParser(YAML_TYPES, { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  /** Saves the app with a new openim block; errors name fields inside the block, as the body has them. */
  const saveOpenIm = async (stored: AppConfig, openim: unknown) => {
    const candidate = refield(
      () => validateAppConfig({ ...stored, openim, source: "api" }),
      (field) => field.replace(/^openim\.?/, "") || "body",
    );
    const url = candidate.openim?.url;
    if (url !== undefined && url !== stored.openim?.url) {
      await checkUrl(ctx, url, stored);
    }
    await checkProviderTargets(
      ctx,
      candidate.openim?.provider,
      stored,
      "provider",
      stored.openim?.provider?.targets,
    );
    await saveApp(ctx, candidate);
  };

  app.get(
    "/v1/apps/:appId/hooks",
    {
      config: { access: "app" },
      schema: { tags: ["hooks"], summary: "The app's OpenIM hook settings", params: appParams },
    },
    async (request) => openImOf(await loadApp(ctx, request.params.appId)),
  );

  app.put(
    "/v1/apps/:appId/hooks",
    {
      config: { access: "app" },
      schema: {
        tags: ["hooks"],
        summary: "Replace the OpenIM hook settings",
        params: appParams,
        body: openImBody,
      },
    },
    async (request) => {
      const stored = await loadApp(ctx, request.params.appId);
      await saveOpenIm(stored, request.body);
      return openImOf(await loadApp(ctx, stored.appId));
    },
  );

  app.get(
    "/v1/apps/:appId/webhooks.yml",
    {
      config: { access: "app" },
      schema: {
        tags: ["hooks"],
        summary: "Export the hook settings as OpenIM's webhooks.yml",
        params: appParams,
      },
    },
    async (request, reply) => {
      const openim = openImOf(await loadApp(ctx, request.params.appId));
      return reply.type("text/yaml; charset=utf-8").send(toOpenImWebhooksYaml(openim));
    },
  );

  app.put(
    "/v1/apps/:appId/webhooks.yml",
    {
      config: { access: "app" },
      schema: {
        tags: ["hooks"],
        summary: "Import OpenIM's webhooks.yml (text/yaml); keeps the app's endpoints",
        params: appParams,
        consumes: YAML_TYPES,
      },
    },
    async (request) => {
      const stored = await loadApp(ctx, request.params.appId);
      if (!(request.body instanceof Uint8Array)) {
        throw new ValidationError("body: expected OpenIM's webhooks.yml as text/yaml", { field: "body" });
      }
      const { webhooks, warnings } = parseOpenImWebhooks(request.body, { file: "webhooks.yml" });
      // OpenIM reads an absent url as "none"; the app's current one (if any) stays then.
      const url = webhooks.url === "" ? stored.openim?.url : webhooks.url;
      if (url === undefined)
        throw new ValidationError("url: the file names no url and the app has none", { field: "url" });
      await saveOpenIm(stored, {
        url,
        urlStyle: stored.openim?.urlStyle ?? "path",
        commandNames: stored.openim?.commandNames ?? "seed",
        hooks: webhooks.hooks,
        // webhooks.yml has no provider: the app's stays.
        ...(stored.openim?.provider === undefined ? {} : { provider: stored.openim.provider }),
      });
      return { warnings };
    },
  );
}
