import type { Command } from "commander";
import type { DeepPartial, Event } from "@herald/proto";
import type * as PublishKit from "../publish-kit.js";
import { collect, integer } from "../cli-context.js";
import { UsageError } from "../errors.js";
import { readInput } from "../json-input.js";

// The gRPC client and the generated code take a while to load: only the action that publishes loads them.
type Kit = typeof PublishKit;
const loadKit = (): Promise<Kit> => import("../publish-kit.js");

type Payload = NonNullable<DeepPartial<Event>["payload"]>;
type Opts = Record<string, unknown> & {
  app?: string;
  id?: string;
  operationId?: string;
  occurredAt?: string;
};

/** `herald publish`: events from a JSON file, stdin or flags, through the gateway's Publish. */
export function registerPublish(program: Command): void {
  const cmd = program
    .command("publish")
    .summary("publish events as the chat core does (from JSON or flags)")
    .description(
      "Publishes events through the gateway's Publish and prints what was stored (stream sequence, duplicate).\n" +
        "From JSON: `herald publish --file events.json` or `herald publish -` (stdin); one Event, an array, or\n" +
        "{events: [...]}, field names camelCase or snake_case, enums by name (reason: LOGOUT or OFFLINE_REASON_LOGOUT).\n" +
        "From flags: `herald publish --app demo online --user alice` (see the subcommands).\n" +
        "Event ids and operation ids are generated when missing.",
    )
    .argument("[file]", 'a JSON file of events, "-" for stdin (the same as --file)')
    .option("--file <path>", 'a JSON file of events, "-" for stdin')
    .action(async (file: string | undefined, _opts: Opts, self: Command) => {
      const opts = self.optsWithGlobals<Opts & { file?: string }>();
      const path = opts.file ?? file;
      if (path === undefined) {
        throw new UsageError(
          "--file",
          "give a JSON file (or - for stdin), or a kind of event: " + KINDS.join(", "),
        );
      }
      const text = readInput(path);
      const kit = await loadKit();
      await kit.send(self, kit.eventsFromJson(text, path === "-" ? "stdin" : path, { appId: opts.app }));
    });
  envelopeOptions(cmd);

  kind(cmd, "online", "a connection (device) of a user came online (conn.online)")
    .requiredOption("--user <id>", "the user id (any Unicode)")
    .option("--conn <id>", "the connection id", "cli")
    .option(
      "--platform-id <n>",
      "OpenIM platform id: 1 iOS, 2 Android, 3 Windows, 4 OSX, 5 Web, …",
      integer,
      5,
    )
    .option("--platform <name>", "the platform's name (filled from --platform-id when absent)")
    .option("--node <id>", "the chat-core node holding the connection", "cli")
    .option("--background", "the app is in the background")
    .option("--client-ip <ip>", "the client's IP")
    .action(
      publishWith((o) => ({
        $case: "connectionOnline",
        value: {
          userId: str(o, "user"),
          connId: str(o, "conn"),
          platformId: o["platformId"] as number,
          platform: (o["platform"] as string | undefined) ?? "",
          nodeId: str(o, "node"),
          isAppBackground: o["background"] === true,
          clientIp: (o["clientIp"] as string | undefined) ?? "",
        },
      })),
    );

  kind(cmd, "offline", "a connection of a user went offline (conn.offline)")
    .requiredOption("--user <id>", "the user id")
    .option("--conn <id>", "the connection id", "cli")
    .option("--reason <reason>", "LOGOUT, DISCONNECT, TIMEOUT or KICKED", "LOGOUT")
    .option("--platform-id <n>", "OpenIM platform id", integer, 5)
    .option("--node <id>", "the chat-core node", "cli")
    .action(
      publishWith((o, kit) => ({
        $case: "connectionOffline",
        value: {
          userId: str(o, "user"),
          connId: str(o, "conn"),
          platformId: o["platformId"] as number,
          nodeId: str(o, "node"),
          reason: kit.offlineReason(o["reason"], "--reason"),
        },
      })),
    );

  kind(cmd, "background", "a connection's app moved to the background or foreground (conn.background)")
    .requiredOption("--user <id>", "the user id")
    .option("--conn <id>", "the connection id", "cli")
    .option("--foreground", "moved to the foreground (default: background)")
    .option("--node <id>", "the chat-core node", "cli")
    .action(
      publishWith((o) => ({
        $case: "connectionBackground",
        value: {
          userId: str(o, "user"),
          connId: str(o, "conn"),
          isAppBackground: o["foreground"] !== true,
          nodeId: str(o, "node"),
        },
      })),
    );

  kind(cmd, "message", "a message was sent to a user (--to) or a group (--group) (msg.sent)")
    .requiredOption("--from <id>", "the sender's user id")
    .option("--to <id>", "the receiver's user id (a single chat)")
    .option("--group <id>", "the group id (a group chat)")
    .option("--content <text>", "the message text", "")
    .option("--message-id <id>", "the server's message id (generated when absent)")
    .option("--type <n>", "MQTT-chat message type 0-5", integer, 0)
    .option("--content-type <n>", "OpenIM content type (101 text)", integer, 101)
    .option("--session-type <n>", "OpenIM session type (1 single, 3 group)", integer)
    .action(
      publishWith((o, kit) => {
        const to = o["to"] as string | undefined;
        const group = o["group"] as string | undefined;
        if ((to === undefined) === (group === undefined)) {
          throw new UsageError("--to", "give exactly one of --to (a user) and --group");
        }
        return {
          $case: "messageSent",
          value: {
            messageId: (o["messageId"] as string | undefined) ?? kit.newId("msg"),
            fromUserId: str(o, "from"),
            toUserId: to ?? "",
            groupId: group ?? "",
            content: str(o, "content"),
            type: o["type"] as number,
            contentType: o["contentType"] as number,
            sessionType: (o["sessionType"] as number | undefined) ?? (group === undefined ? 1 : 3),
            sentAt: new Date(),
          },
        };
      }),
    );

  const status = [
    "--status <n>",
    "RongCloud status: 0 by API call, 1 auto-kicked, 2 banned, 3 auto-destroyed",
  ] as const;
  kind(cmd, "room-created", "a chatroom was created (room.created)")
    .requiredOption("--room <id>", "the room id")
    .option(status[0], status[1], integer, 0)
    .action(
      publishWith((o) => ({
        $case: "roomCreated",
        value: { roomId: str(o, "room"), status: o["status"] as number },
      })),
    );
  for (const [name, $case, what] of [
    ["room-joined", "roomJoined", "users joined a chatroom (room.joined)"],
    ["room-left", "roomLeft", "users left a chatroom (room.left)"],
  ] as const) {
    kind(cmd, name, what)
      .requiredOption("--room <id>", "the room id")
      .requiredOption("--user <id>", "a user id; repeat it, or separate ids with commas", collect)
      .option(status[0], status[1], integer, 0)
      .action(
        publishWith((o) => ({
          $case,
          value: { roomId: str(o, "room"), userIds: o["user"] as string[], status: o["status"] as number },
        })),
      );
  }
  kind(cmd, "room-destroyed", "a chatroom was destroyed; every membership ends (room.destroyed)")
    .requiredOption("--room <id>", "the room id")
    .option(status[0], status[1], integer, 0)
    .action(
      publishWith((o) => ({
        $case: "roomDestroyed",
        value: { roomId: str(o, "room"), status: o["status"] as number },
      })),
    );

  kind(cmd, "node-reset", "a chat-core node restarted; its connections are gone (node.reset)")
    .requiredOption("--node <id>", "the node id")
    .action(publishWith((o) => ({ $case: "nodeReset", value: { nodeId: str(o, "node") } })));

  kind(cmd, "heartbeat", "a chat-core node is alive (node.heartbeat)")
    .requiredOption("--node <id>", "the node id")
    .option("--lease <seconds>", "silent longer than this plus the app's margin, the node is reset", integer)
    .action(
      publishWith((o) => ({
        $case: "nodeHeartbeat",
        value: {
          nodeId: str(o, "node"),
          ...(o["lease"] === undefined ? {} : { lease: { seconds: o["lease"] as number, nanos: 0 } }),
        },
      })),
    );

  kind(cmd, "passthrough", "any other OpenIM after-command, delivered as it is (openim.<command>)")
    .requiredOption("--command <name>", "the OpenIM callback command, e.g. callbackAfterJoinGroupCommand")
    .requiredOption("--payload <json>", "the JSON object the chat core would send")
    .action(
      publishWith((o) => {
        const payload = str(o, "payload");
        try {
          JSON.parse(payload);
        } catch (err) {
          throw new UsageError("--payload", `is not JSON: ${(err as Error).message}`);
        }
        return { $case: "passthrough", value: { command: str(o, "command"), payloadJson: payload } };
      }),
    );
}

const KINDS = [
  "online",
  "offline",
  "background",
  "message",
  "room-created",
  "room-joined",
  "room-left",
  "room-destroyed",
  "node-reset",
  "heartbeat",
  "passthrough",
];

/** The envelope flags, on `publish` and on each kind (`publish --app a online` and `publish online --app a`). */
function envelopeOptions(cmd: Command): Command {
  return cmd
    .option("--app <id>", "the app (for events that name none)")
    .option("--id <id>", "the event id, its idempotency key (generated when absent)")
    .option("--operation-id <id>", "the chat core's operationID (generated when absent)")
    .option("--occurred-at <time>", "when it happened, RFC 3339 (default: when Herald receives it)");
}

function kind(parent: Command, name: string, summary: string): Command {
  return envelopeOptions(parent.command(name).description(summary));
}

function publishWith(payload: (opts: Opts, kit: Kit) => Payload) {
  return async (_opts: Opts, self: Command) => {
    const o = self.optsWithGlobals<Opts>();
    if (o.app === undefined) throw new UsageError("--app", "required: the app the event belongs to");
    let occurredAt: Date | undefined;
    if (o.occurredAt !== undefined) {
      occurredAt = new Date(o.occurredAt);
      if (Number.isNaN(occurredAt.getTime())) {
        throw new UsageError(
          "--occurred-at",
          `expected an RFC 3339 time, got ${JSON.stringify(o.occurredAt)}`,
        );
      }
    }
    const kit = await loadKit();
    const event = kit.Event.fromPartial({
      id: o.id ?? kit.newId("cli"),
      appId: o.app,
      operationId: o.operationId ?? kit.newId("op"),
      occurredAt,
      payload: payload(o, kit),
    });
    await kit.send(self, [event]);
  };
}

function str(o: Opts, key: string): string {
  const value = o[key];
  return typeof value === "string" ? value : "";
}
