import type { Command } from "commander";
import { AdminClient, segment } from "../admin.js";
import { globalsOf, print, printJson } from "../cli-context.js";
import { RefusedError } from "../errors.js";
import { jsonObjectInput } from "../json-input.js";

interface AppSummary {
  appId: string;
  source: string;
  endpointCount: number;
  hasOpenIm: boolean;
}

/** `herald apps …` and `herald keys …`: apps and their API keys through the admin API. */
export function registerApps(program: Command): void {
  const apps = program.command("apps").description("list, show, create and delete apps (admin API)");

  apps
    .command("list")
    .description("list the apps")
    .action(async (_o: unknown, self: Command) => {
      const { target, json } = globalsOf(self);
      const res = await AdminClient.of(target).get<{ apps: AppSummary[] }>("/v1/apps");
      if (json) return printJson(res);
      if (res.apps.length === 0) return print("no apps (create one: herald apps create <appId>)");
      for (const a of res.apps) {
        print(
          `${a.appId}  ${a.endpointCount} endpoint(s)  source ${a.source}${a.hasOpenIm ? "  openim hooks" : ""}`,
        );
      }
    });

  apps
    .command("get")
    .description("show an app (secrets redacted)")
    .argument("<appId>", "the app")
    .action(async (appId: string, _o: unknown, self: Command) => {
      const { target } = globalsOf(self);
      printJson(await AdminClient.of(target).get(`/v1/apps/${segment(appId)}`));
    });

  apps
    .command("create")
    .description(
      "create an app; without a body an app with no hooks and no endpoints, and nothing is changed when it exists",
    )
    .argument("<appId>", "the app id: 1-64 characters of [A-Za-z0-9_-]")
    .option(
      "--body <json>",
      "the app as the admin API's PUT /v1/apps/{appId} takes it (openim, tencent, endpoints, …)",
    )
    .option("--file <path>", "the same from a file")
    .option("--replace", "replace the app when it exists")
    .action(async (appId: string, _o: unknown, self: Command) => {
      const o = self.opts<{ body?: string; file?: string; replace?: boolean }>();
      const { target, json } = globalsOf(self);
      const admin = AdminClient.of(target);
      const body = jsonObjectInput(o.body, o.file, "--body")?.value;
      const exists = await admin.get(`/v1/apps/${segment(appId)}`).then(
        () => true,
        (err: unknown) => {
          if (err instanceof RefusedError && err.status === "404") return false;
          throw err;
        },
      );
      if (exists && o.replace !== true) {
        if (body !== undefined) {
          throw new RefusedError("409", `app ${appId} exists; add --replace to replace it`, "appId");
        }
        return json
          ? printJson({ appId, created: false })
          : print(`app ${appId} exists already; not changed`);
      }
      const app = await admin.call("PUT", `/v1/apps/${segment(appId)}`, body ?? {});
      if (json) return printJson(app);
      print(`${exists ? "replaced" : "created"} app ${appId}`);
    });

  apps
    .command("delete")
    .description("delete an app, its endpoints and keys")
    .argument("<appId>", "the app")
    .action(async (appId: string, _o: unknown, self: Command) => {
      const { target, json } = globalsOf(self);
      await AdminClient.of(target).call("DELETE", `/v1/apps/${segment(appId)}`);
      return json ? printJson({ appId, deleted: true }) : print(`deleted app ${appId}`);
    });

  const keys = program
    .command("keys")
    .description("an app's API keys (hak_…), which reach only that app (admin API)");
  keys
    .command("list")
    .description("list an app's keys (their ids and creation times; the keys themselves are shown only once)")
    .requiredOption("--app <id>", "the app")
    .action(async (_o: unknown, self: Command) => {
      const { app } = self.opts<{ app: string }>();
      const { target, json } = globalsOf(self);
      const res = await AdminClient.of(target).get<{ keys: Array<{ id: string; createdAt: string }> }>(
        `/v1/apps/${segment(app)}/keys`,
      );
      if (json) return printJson(res);
      if (res.keys.length === 0) return print(`app ${app} has no keys`);
      for (const k of res.keys) print(`${k.id}  created ${k.createdAt}`);
    });
  keys
    .command("create")
    .description("create a key for an app; it is printed once and kept only as a hash")
    .requiredOption("--app <id>", "the app")
    .action(async (_o: unknown, self: Command) => {
      const { app } = self.opts<{ app: string }>();
      const { target, json } = globalsOf(self);
      const res = await AdminClient.of(target).call<{ id: string; key: string }>(
        "POST",
        `/v1/apps/${segment(app)}/keys`,
      );
      if (json) return printJson(res);
      print(`key ${res.id} of app ${app} (shown only now; keep it):`);
      print(res.key);
    });
  keys
    .command("revoke")
    .description("revoke a key")
    .argument("<keyId>", "the key's id (keys list shows them)")
    .requiredOption("--app <id>", "the app")
    .action(async (keyId: string, _o: unknown, self: Command) => {
      const { app } = self.opts<{ app: string }>();
      const { target, json } = globalsOf(self);
      await AdminClient.of(target).call("DELETE", `/v1/apps/${segment(app)}/keys/${segment(keyId)}`);
      return json ? printJson({ keyId, revoked: true }) : print(`revoked key ${keyId} of app ${app}`);
    });
}
