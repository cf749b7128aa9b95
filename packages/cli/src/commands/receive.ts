import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Command } from "commander";
import { AdminClient, segment } from "../admin.js";
import { collect, globalsOf, integer, print, printJsonLine, untilStopped } from "../cli-context.js";
import { describeSigning, dialectName, type EndpointSigning } from "../dialects.js";
import { UsageError } from "../errors.js";
import type { ReceivedCallback } from "../receiver-dialects.js";
import { addEndpoint } from "./endpoints.js";

interface ReceiveOpts {
  port: number;
  host: string;
  secret?: string;
  appKey?: string;
  sdkAppId?: string;
  app?: string;
  dialect: string;
  url?: string;
  events?: string[];
}

/** `herald receive`: a business server for trying Herald out, that prints and verifies what it gets. */
export function registerReceive(program: Command): void {
  program
    .command("receive")
    .summary("a local receiver that prints and verifies callbacks (with --app: registered as an endpoint)")
    .description(
      "Runs a local HTTP receiver that prints each callback (method, path, delivery id, body) and checks its\n" +
        "signature with @herald/receiver when it knows the secret, answering as the dialect expects. With --app it\n" +
        "adds itself as an endpoint of that app (a fresh secret) and removes the endpoint again on Ctrl-C.",
    )
    .option("--port <port>", "the port to listen on (0: any free one)", integer, 0)
    .option("--host <host>", "the address to listen on", "127.0.0.1")
    .option("--app <id>", "add this receiver as an endpoint of the app while it runs")
    .option(
      "--dialect <name>",
      "standard (standard-webhooks), openim, rongcloud, mqttchat (mqtt-chat) or tencent",
      "standard",
    )
    .option(
      "--secret <secret>",
      "standard: the whsec_ secret; rongcloud: the appSecret; tencent: the token (with --app: generated)",
    )
    .option("--app-key <key>", "rongcloud: the appKey")
    .option("--sdk-app-id <id>", "tencent: the SDKAppID")
    .option(
      "--events <types>",
      "with --app: the endpoint's event types, comma separated (default: the dialect's)",
      collect,
    )
    .option(
      "--url <url>",
      "with --app: the URL Herald should call, when not http://<host>:<port>/ (a tunnel, a container)",
    )
    .action(async (_o: unknown, self: Command) => {
      const o = self.opts<ReceiveOpts>();
      const { target, json } = globalsOf(self);
      const dialect = dialectName(o.dialect);
      if (o.port < 0 || o.port > 65535) throw new UsageError("--port", "expected 0-65535");
      const admin = o.app === undefined ? undefined : AdminClient.of(target);
      // With --app the signing material is made when the endpoint is added; without, it is what was given.
      let signing: EndpointSigning | undefined =
        o.app !== undefined || (o.secret === undefined && o.sdkAppId === undefined)
          ? undefined
          : { secret: o.secret, appKey: o.appKey, sdkAppId: o.sdkAppId };

      // Loaded here, not at start: the HTTP server and the verifiers take a while to load.
      const { default: Fastify } = await import("fastify");
      const { receiveCallback } = await import("../receiver-dialects.js");
      const server = Fastify({ bodyLimit: 16 * 1024 * 1024 });
      server.removeAllContentTypeParsers();
      // Signatures cover the raw bytes: keep them as they came.
      server.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
      server.all("/*", async (request, reply) => {
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const got = receiveCallback(
          { method: request.method, url: request.url, headers: request.headers, body },
          dialect,
          signing,
        );
        show({ method: request.method, url: request.url, got }, json);
        reply.code(got.answer.status);
        if (got.answer.contentType !== undefined) reply.header("content-type", got.answer.contentType);
        return reply.send(got.answer.body);
      });
      const stopped = untilStopped();
      await server.listen({ port: o.port, host: o.host });
      const { port } = server.server.address() as AddressInfo;
      const host = o.host === "0.0.0.0" || o.host === "::" ? "127.0.0.1" : o.host;
      const url = o.url ?? `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;

      let endpointId: string | undefined;
      try {
        if (admin !== undefined && o.app !== undefined) {
          endpointId = `receiver-${randomBytes(4).toString("hex")}`;
          const added = await addEndpoint(admin, o.app, { ...o, id: endpointId, url, dialect });
          signing = added.signing;
        }
      } catch (err) {
        await server.close();
        throw err;
      }
      const signed = signing === undefined ? undefined : describeSigning(dialect, signing);
      if (json) {
        printJsonLine({ listening: url, dialect, appId: o.app, endpointId, ...(signing ?? {}) });
      } else {
        print(`listening on ${url} (${dialect}); Ctrl-C to stop`);
        if (endpointId !== undefined)
          print(`added endpoint ${endpointId} of app ${o.app}, which signs with ${signed}`);
        else if (signed !== undefined) print(`checking signatures: ${signed}`);
      }

      await stopped;
      await server.close();
      if (admin !== undefined && o.app !== undefined && endpointId !== undefined) {
        try {
          await admin.call("DELETE", `/v1/apps/${segment(o.app)}/endpoints/${segment(endpointId)}`);
        } catch (err) {
          const remove = `herald endpoints remove ${endpointId} --app ${o.app}`;
          throw new Error(
            `endpoint ${endpointId} is still registered (${remove}): ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        }
        if (!json) print(`removed endpoint ${endpointId} of app ${o.app}`);
      }
    });
}

function show(req: { method: string; url: string; got: ReceivedCallback }, json: boolean): void {
  const { got } = req;
  if (json) {
    printJsonLine({
      method: req.method,
      path: req.url,
      deliveryIds: got.deliveryIds,
      signature: got.signature,
      signatureError: got.signatureError,
      payload: got.payload,
      payloadError: got.payloadError,
      answered: got.answer.status,
    });
    return;
  }
  const ids = got.deliveryIds.length === 0 ? "" : `  herald-delivery-id ${got.deliveryIds.join(", ")}`;
  const signature =
    got.signature === "failed" ? `signature FAILED: ${got.signatureError}` : `signature ${got.signature}`;
  print(`${new Date().toISOString()}  ${req.method} ${req.url}${ids}  ${signature}  -> ${got.answer.status}`);
  if (got.payloadError !== undefined) print(`  (not the dialect's shape: ${got.payloadError})`);
  print(JSON.stringify(got.payload, null, 2).replace(/^/gm, "  "));
}
