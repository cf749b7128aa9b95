import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import { AdminClient, segment } from "../admin.js";
import { collect, globalsOf, integer, print, printJson } from "../cli-context.js";
import {
  describeSigning,
  dialectName,
  signingBody,
  signingFor,
  type DialectName,
  type EndpointSigning,
} from "../dialects.js";
import { UsageError } from "../errors.js";

export interface EndpointView {
  id: string;
  url: string;
  dialect: string;
  eventTypes: string[];
  implied?: boolean;
  state: { state: string; reason: string; until?: string };
}

/** `herald endpoints …`: an app's business server URLs through the admin API. */
export function registerEndpoints(program: Command): void {
  const endpoints = program
    .command("endpoints")
    .description("an app's endpoints: where its callbacks go (admin API)");

  endpoints
    .command("list")
    .description("list an app's endpoints with their state")
    .requiredOption("--app <id>", "the app")
    .action(async (_o: unknown, self: Command) => {
      const { app } = self.opts<{ app: string }>();
      const { target, json } = globalsOf(self);
      const res = await AdminClient.of(target).get<{ endpoints: EndpointView[] }>(
        `/v1/apps/${segment(app)}/endpoints`,
      );
      if (json) return printJson(res);
      if (res.endpoints.length === 0)
        return print(`app ${app} has no endpoints (add one: herald endpoints add --app ${app} --url …)`);
      for (const e of res.endpoints) {
        const state = e.state.state + (e.state.reason === "" ? "" : ` (${e.state.reason})`);
        print(
          `${e.id}  ${e.dialect}  ${e.url}  ${state}  events ${e.eventTypes.join(",")}${e.implied ? "  (from the openim hooks)" : ""}`,
        );
      }
    });

  signingOptions(
    endpoints
      .command("add")
      .description("add an endpoint; prints the secret it signs with (generated unless given)")
      .requiredOption("--app <id>", "the app")
      .requiredOption("--url <url>", "the business server's URL")
      .option("--id <id>", "the endpoint id: 1-64 characters of [A-Za-z0-9_-] (generated when absent)")
      .option(
        "--dialect <name>",
        "standard (Standard Webhooks), openim, rongcloud, mqttchat or tencent",
        "standard",
      )
      .option(
        "--events <types>",
        'event types, comma separated ("user.*", "msg.sent"; default: the dialect\'s)',
        collect,
      )
      .option("--timeout-ms <ms>", "per-request timeout", integer),
  ).action(async (_o: unknown, self: Command) => {
    const o = self.opts<EndpointFlags & { app: string; url: string; id?: string; dialect: string }>();
    const { target, json } = globalsOf(self);
    const dialect = dialectName(o.dialect);
    const id = o.id ?? `ep-${randomBytes(4).toString("hex")}`;
    const added = await addEndpoint(AdminClient.of(target), o.app, { ...o, id, dialect });
    if (json) return printJson({ endpoint: added.endpoint, ...added.signing });
    print(`added endpoint ${id} (${dialect}) of app ${o.app}: ${o.url}`);
    const signing = describeSigning(dialect, added.signing);
    if (signing !== undefined) print(`it signs with ${signing}`);
  });

  signingOptions(
    endpoints
      .command("update")
      .description("change an endpoint's URL, event types, timeout or signing material")
      .argument("<endpointId>", "the endpoint")
      .requiredOption("--app <id>", "the app")
      .option("--url <url>", "a new URL")
      .option("--events <types>", "event types, comma separated", collect)
      .option("--timeout-ms <ms>", "per-request timeout", integer),
  ).action(async (endpointId: string, _o: unknown, self: Command) => {
    const o = self.opts<EndpointFlags & { app: string; url?: string }>();
    const { target, json } = globalsOf(self);
    const admin = AdminClient.of(target);
    const path = `/v1/apps/${segment(o.app)}/endpoints/${segment(endpointId)}`;
    const patch: Record<string, unknown> = {
      ...(o.url === undefined ? {} : { url: o.url }),
      ...(o.events === undefined ? {} : { eventTypes: o.events }),
      ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
    };
    if (o.secret !== undefined || o.appKey !== undefined || o.sdkAppId !== undefined) {
      const current = await admin.get<EndpointView>(path);
      const dialect = dialectName(current.dialect);
      Object.assign(patch, signingBody(dialect, signingFor(dialect, o, o.app)));
    }
    if (Object.keys(patch).length === 0) {
      throw new UsageError("--url", "nothing to change: give --url, --events, --timeout-ms or signing flags");
    }
    const updated = await admin.call<EndpointView>("PATCH", path, patch);
    if (json) return printJson(updated);
    print(
      `updated endpoint ${endpointId} of app ${o.app}: ${updated.url}  events ${updated.eventTypes.join(",")}`,
    );
  });

  endpoints
    .command("remove")
    .description("remove an endpoint")
    .argument("<endpointId>", "the endpoint")
    .requiredOption("--app <id>", "the app")
    .action(async (endpointId: string, _o: unknown, self: Command) => {
      const { app } = self.opts<{ app: string }>();
      const { target, json } = globalsOf(self);
      await AdminClient.of(target).call(
        "DELETE",
        `/v1/apps/${segment(app)}/endpoints/${segment(endpointId)}`,
      );
      return json
        ? printJson({ endpointId, removed: true })
        : print(`removed endpoint ${endpointId} of app ${app}`);
    });

  // The endpoint's own actions: POST /v1/apps/{appId}/endpoints/{endpointId}/<action>.
  const action = (name: string, description: string) =>
    endpoints
      .command(name)
      .description(description)
      .argument("<endpointId>", "the endpoint")
      .requiredOption("--app <id>", "the app");
  const post = async <T>(self: Command, endpointId: string, name: string, body: unknown): Promise<T> => {
    const { app } = self.opts<{ app: string }>();
    const { target } = globalsOf(self);
    return AdminClient.of(target).call<T>(
      "POST",
      `/v1/apps/${segment(app)}/endpoints/${segment(endpointId)}/${name}`,
      body,
    );
  };
  const showState = (self: Command, endpointId: string, res: { state: EndpointView["state"] }) => {
    if (globalsOf(self).json) return printJson(res);
    const reason = res.state.reason === "" ? "" : ` (${res.state.reason})`;
    print(`endpoint ${endpointId} is ${res.state.state}${reason}`);
  };

  action("enable", "enable (or re-enable) an endpoint").action(
    async (endpointId: string, _o: unknown, self: Command) =>
      showState(self, endpointId, await post(self, endpointId, "enable", {})),
  );
  action("disable", "disable an endpoint: its deliveries die at once, without a request")
    .option("--reason <text>", "why, kept with the state")
    .action(async (endpointId: string, _o: unknown, self: Command) => {
      const { reason } = self.opts<{ reason?: string }>();
      showState(
        self,
        endpointId,
        await post(self, endpointId, "disable", reason === undefined ? {} : { reason }),
      );
    });
  action("pause", "pause an endpoint until a time: its deliveries wait (enable resumes it sooner)")
    .requiredOption("--until <time>", "when sending resumes, ISO 8601 (e.g. 2026-12-03T18:00:00Z)")
    .option("--reason <text>", "why, kept with the state")
    .action(async (endpointId: string, _o: unknown, self: Command) => {
      const { until, reason } = self.opts<{ until: string; reason?: string }>();
      const res = await post<{ state: EndpointView["state"] }>(self, endpointId, "pause", {
        until,
        ...(reason === undefined ? {} : { reason }),
      });
      if (globalsOf(self).json) return printJson(res);
      const why = res.state.reason === "" ? "" : ` (${res.state.reason})`;
      print(`endpoint ${endpointId} is ${res.state.state} until ${res.state.until ?? until}${why}`);
    });
  action("test", "send the endpoint a synthetic event, through the deliverer like any other")
    .option(
      "--type <type>",
      "msg.sent, user.online, user.offline or room.status (default: one the dialect says)",
    )
    .action(async (endpointId: string, _o: unknown, self: Command) => {
      const { type } = self.opts<{ type?: string }>();
      const res = await post<{ deliveryId: string }>(
        self,
        endpointId,
        "test",
        type === undefined ? {} : { type },
      );
      if (globalsOf(self).json) return printJson(res);
      print(`sent a test event to ${endpointId}: delivery ${res.deliveryId} (herald tail shows how it went)`);
    });
  action("rotate-secret", "give a standard endpoint a new secret; the old ones stay valid for the overlap")
    .option("--overlap-ms <ms>", "how long the old secrets stay valid (default: a day)", integer)
    .action(async (endpointId: string, _o: unknown, self: Command) => {
      const { overlapMs } = self.opts<{ overlapMs?: number }>();
      const res = await post<{ secret: string }>(
        self,
        endpointId,
        "rotate-secret",
        overlapMs === undefined ? {} : { overlapMs },
      );
      if (globalsOf(self).json) return printJson(res);
      print(`endpoint ${endpointId} now signs with secret ${res.secret} (shown only now)`);
    });
}

export interface EndpointFlags {
  events?: string[];
  timeoutMs?: number;
  secret?: string;
  appKey?: string;
  sdkAppId?: string;
}

function signingOptions(cmd: Command): Command {
  return cmd
    .option(
      "--secret <secret>",
      "standard: the whsec_ secret; rongcloud: the appSecret; tencent: the token (generated when absent)",
    )
    .option("--app-key <key>", "rongcloud: the appKey (default: the app id)")
    .option("--sdk-app-id <id>", "tencent: the SDKAppID (default 1400000000)");
}

/** Creates the endpoint with signing material made here; the API's answer shows secrets redacted. */
export async function addEndpoint(
  admin: AdminClient,
  appId: string,
  spec: EndpointFlags & { id: string; url: string; dialect: DialectName },
): Promise<{ endpoint: EndpointView; signing: EndpointSigning }> {
  const signing = signingFor(spec.dialect, spec, appId);
  const endpoint = await admin.call<EndpointView>("POST", `/v1/apps/${segment(appId)}/endpoints`, {
    id: spec.id,
    url: spec.url,
    dialect: spec.dialect,
    ...(spec.events === undefined ? {} : { eventTypes: spec.events }),
    ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
    ...signingBody(spec.dialect, signing),
  });
  return { endpoint, signing };
}
