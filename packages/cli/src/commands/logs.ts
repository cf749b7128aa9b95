import type { Command } from "commander";
import { AdminClient, segment } from "../admin.js";
import { attemptLine, type AttemptView } from "../attempts.js";
import { globalsOf, integer, print, printJson, printJsonLine, untilStopped } from "../cli-context.js";
import { UsageError } from "../errors.js";

/** The admin API's answer for an event: the event, its attempts, and the events derived from it with theirs. */
interface EventStory {
  event: StoredEvent | null;
  attempts: AttemptView[];
  derived: Array<{ event: StoredEvent | null; attempts: AttemptView[] }>;
}

/** Event.toJSON: the envelope, and the payload under its case's name (connectionOnline: {...}). */
interface StoredEvent {
  id?: string;
  appId?: string;
  type?: string;
  occurredAt?: string;
  operationId?: string;
  [payloadCase: string]: unknown;
}

/** `herald tail`, `herald replay`, `herald story`: the delivery log, live and after the fact. */
export function registerLogs(program: Command): void {
  program
    .command("tail")
    .description("print an app's attempts (deliveries and before-hooks) as they are logged, until Ctrl-C")
    .requiredOption("--app <id>", "the app")
    .option("--endpoint <id>", "only this endpoint's")
    .option("--kind <kind>", "only delivery or before")
    .option("--since <time>", "from this time (RFC 3339, or 10m, 2h ago); default: now")
    .option("--interval <ms>", "how often to ask the log store", integer, 1000)
    .action(async (_o: unknown, self: Command) => {
      const o = self.opts<{
        app: string;
        endpoint?: string;
        kind?: string;
        since?: string;
        interval: number;
      }>();
      const { target, json } = globalsOf(self);
      if (o.kind !== undefined && o.kind !== "delivery" && o.kind !== "before") {
        throw new UsageError("--kind", `expected delivery or before, got ${JSON.stringify(o.kind)}`);
      }
      if (o.interval < 50) throw new UsageError("--interval", "expected at least 50 ms");
      const admin = AdminClient.of(target);
      const since = o.since === undefined ? new Date() : pastTime(o.since, "--since");
      const stopped = untilStopped();
      let stop = false;
      void stopped.then(() => (stop = true));
      const what = `attempts of app ${o.app}${o.endpoint === undefined ? "" : ` to endpoint ${o.endpoint}`}`;
      if (json) printJsonLine({ tailing: o.app, since: since.toISOString() });
      else print(`tailing ${what} since ${since.toISOString()}; Ctrl-C to stop`);
      // Attempts are logged in batches and may land behind ones already shown: ask again over a window, skip the seen.
      const seen = new Map<string, number>();
      let from = since.getTime();
      while (!stop) {
        const fresh = await newAttempts(admin, o.app, { endpointId: o.endpoint, kind: o.kind, from }, seen);
        for (const a of fresh) {
          if (json) printJsonLine(a);
          else print(attemptLine(a));
        }
        const newest = Math.max(from, ...[...seen.values()]);
        from = Math.max(since.getTime(), newest - 60_000);
        for (const [id, at] of seen) if (at < from) seen.delete(id);
        await Promise.race([stopped, new Promise((r) => setTimeout(r, o.interval))]);
      }
    });

  program
    .command("replay")
    .summary("send a delivery again, or an endpoint's dead deliveries since a time")
    .description(
      "send a delivery again (same delivery id), or every dead delivery of an endpoint since a time:\n" +
        "  herald replay <deliveryId> --app A\n  herald replay --app A --endpoint E --since 1h",
    )
    .argument("[deliveryId]", "<eventId>:<endpointId>, as tail and story show it")
    .requiredOption("--app <id>", "the app")
    .option("--endpoint <id>", "replay this endpoint's dead deliveries (with --since)")
    .option("--since <time>", "RFC 3339, or 10m, 2h, 1d ago")
    .action(async (deliveryId: string | undefined, _o: unknown, self: Command) => {
      const o = self.opts<{ app: string; endpoint?: string; since?: string }>();
      const { target, json } = globalsOf(self);
      const admin = AdminClient.of(target);
      if (deliveryId !== undefined) {
        if (o.endpoint !== undefined || o.since !== undefined) {
          throw new UsageError("--endpoint", "give a delivery id, or --endpoint with --since, not both");
        }
        const res = await admin.call(
          "POST",
          `/v1/apps/${segment(o.app)}/deliveries/${segment(deliveryId)}/replay`,
        );
        return json ? printJson(res) : print(`replaying ${deliveryId}`);
      }
      if (o.endpoint === undefined)
        throw new UsageError("deliveryId", "give a delivery id, or --endpoint and --since");
      if (o.since === undefined)
        throw new UsageError("--since", "required with --endpoint: replay dead deliveries since when?");
      const since = pastTime(o.since, "--since");
      const res = await admin.call<{ replayed: number }>(
        "POST",
        `/v1/apps/${segment(o.app)}/endpoints/${segment(o.endpoint)}/replay`,
        { since: since.toISOString() },
      );
      if (json) return printJson(res);
      print(
        `replaying ${res.replayed} dead deliveries of endpoint ${o.endpoint} since ${since.toISOString()}`,
      );
    });

  program
    .command("story")
    .description(
      "an event as stored, the events derived from it (presence, rooms), and every delivery attempt of each",
    )
    .argument("<eventId>", "the id the chat core published (or a derived event's)")
    .requiredOption("--app <id>", "the app")
    .action(async (eventId: string, _o: unknown, self: Command) => {
      const { app } = self.opts<{ app: string }>();
      const { target, json } = globalsOf(self);
      const story = await AdminClient.of(target).get<EventStory>(
        `/v1/apps/${segment(app)}/events/${segment(eventId)}`,
      );
      if (json) return printJson(story);
      printEvent(story.event, eventId, story.attempts, "");
      if (story.derived.length === 0) print("derived events: none");
      for (const d of story.derived) printEvent(d.event, "?", d.attempts, "  derived: ");
    });
}

async function newAttempts(
  admin: AdminClient,
  appId: string,
  filter: { endpointId?: string; kind?: string; from: number },
  seen: Map<string, number>,
): Promise<AttemptView[]> {
  const fresh: AttemptView[] = [];
  let pageToken: string | undefined;
  // Newest first, page by page, until a page holds only attempts already shown.
  for (let page = 0; page < 20; page++) {
    const res = await admin.get<{ attempts: AttemptView[]; nextPageToken?: string }>(
      `/v1/apps/${segment(appId)}/attempts`,
      { ...filter, from: new Date(filter.from).toISOString(), pageSize: 500, pageToken },
    );
    const unseen = res.attempts.filter((a) => a.id !== undefined && !seen.has(a.id));
    for (const a of unseen) seen.set(a.id ?? "", Date.parse(a.at ?? "") || filter.from);
    fresh.push(...unseen);
    pageToken = res.nextPageToken;
    if (unseen.length === 0 || pageToken === undefined || pageToken === "") break;
  }
  return fresh.reverse();
}

function printEvent(event: StoredEvent | null, asked: string, attempts: AttemptView[], indent: string): void {
  if (event === null) {
    print(`${indent}event ${asked}: not in the event log (its attempts may still be)`);
  } else {
    const { id, type, occurredAt, appId: _app, operationId, ...payload } = event;
    print(
      `${indent}event ${id ?? "?"}  ${type ?? ""}  occurred ${occurredAt ?? "?"}  operationID ${operationId ?? ""}`,
    );
    print(`${indent}  ${JSON.stringify(payload)}`);
  }
  if (attempts.length === 0) print(`${indent}  no delivery attempts of this event itself`);
  for (const a of [...attempts].sort((x, y) => (x.at ?? "").localeCompare(y.at ?? ""))) {
    print(`${indent}  ${attemptLine(a)}`);
  }
}

const AGO = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An RFC 3339 time, or a duration before now ("10m", "2h", "1d"). */
export function pastTime(value: string, flag: string): Date {
  const ago = AGO.exec(value);
  if (ago !== null) return new Date(Date.now() - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS]);
  const time = /^\d{4}-\d\d-\d\dT/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(time.getTime())) {
    throw new UsageError(
      flag,
      `expected an RFC 3339 time (2025-01-31T12:00:00Z) or a duration ago (10m, 2h, 1d), got ${JSON.stringify(value)}`,
    );
  }
  return time;
}
