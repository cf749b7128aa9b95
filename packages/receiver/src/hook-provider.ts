import { Server, ServerCredentials, type ServerDuplexStream } from "@grpc/grpc-js";
import {
  DecideResponse,
  HookProviderServiceService,
  type DecideRequest,
  type HookProviderServiceServer,
} from "@herald/proto";

/** One before-hook Herald asks about: the fields of the proto's DecideRequest, the body parsed. */
export interface HookProviderCall {
  /** Herald's id for the call on this stream; the answer is matched by it (serveHookProvider does). */
  readonly id: number;
  readonly appId: string;
  /** "openim" or "tencent": whose body this is and whose answer Herald expects. */
  readonly dialect: string;
  /** The hook's key in the app's config (beforeSendSingleMsg, C2C.CallbackBeforeSendMsg). */
  readonly hook: string;
  /** The callback command as the chat core named it. */
  readonly command: string;
  readonly operationId: string;
  /** Exactly the JSON the HTTP path would POST. */
  readonly body: string;
  /** `body` parsed (an empty object if it were not JSON, which Herald never sends). */
  readonly payload: Record<string, unknown>;
  /** How long Herald waits for the answer, in ms from when it sent the call. */
  readonly deadlineMs: number;
}

/** What the HTTP answer would have been: status (default 200) and body (an object is sent as JSON). */
export interface HookProviderAnswer {
  readonly status?: number;
  readonly body: string | Record<string, unknown>;
  /** With a 429 or 503: when Herald may call again (HTTP's Retry-After), in ms. */
  readonly retryAfterMs?: number;
}

export interface ServeHookProviderOptions {
  /** 0 (the default): any free port; see the returned `port`. */
  readonly port?: number;
  /** Default "0.0.0.0". */
  readonly host?: string;
  /** Decides one call; a throw or a rejection answers 500 (a failed call: the hook's policy applies). */
  readonly decide: (call: HookProviderCall) => HookProviderAnswer | Promise<HookProviderAnswer>;
}

export interface HookProviderServer {
  readonly port: number;
  /**
   * Stops at once, ending Herald's open streams: Herald fails the calls still pending here as network
   * failures (the hook's retries go to another target) and reconnects when the provider is back.
   */
  close(): Promise<void>;
}

/**
 * A gRPC hook provider (herald.v1.HookProviderService) for a business server: Herald sends the app's
 * synchronous before-hooks here instead of POSTing them to the app's URL, and reads the answer exactly
 * as it would the HTTP one. Calls on a stream are decided concurrently; each answer goes back as soon
 * as it is ready.
 */
export async function serveHookProvider(opts: ServeHookProviderOptions): Promise<HookProviderServer> {
  const server = new Server();
  const implementation: HookProviderServiceServer = {
    decide: (stream) => answerCalls(stream, opts.decide),
  };
  server.addService(HookProviderServiceService, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${opts.host ?? "0.0.0.0"}:${opts.port ?? 0}`,
      ServerCredentials.createInsecure(),
      (err, bound) => (err ? reject(err) : resolve(bound)),
    ),
  );
  return {
    port,
    close: () => {
      server.forceShutdown();
      return Promise.resolve();
    },
  };
}

function answerCalls(
  stream: ServerDuplexStream<DecideRequest, DecideResponse>,
  decide: ServeHookProviderOptions["decide"],
): void {
  let open = true;
  const finish = () => {
    open = false;
  };
  stream.on("cancelled", finish);
  stream.on("error", finish);
  stream.on("end", () => {
    finish();
    stream.end();
  });
  stream.on("data", (request: DecideRequest) => {
    const call: HookProviderCall = { ...request, payload: parsePayload(request.body) };
    void (async () => {
      let answer: HookProviderAnswer;
      try {
        answer = await decide(call);
      } catch (err) {
        answer = { status: 500, body: err instanceof Error ? err.message : String(err) };
      }
      if (!open) return;
      stream.write(
        DecideResponse.fromPartial({
          id: request.id,
          status: answer.status ?? 200,
          body: typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body),
          retryAfterMs: answer.retryAfterMs ?? 0,
        }),
      );
    })();
  });
}

function parsePayload(body: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** An OpenIM before-hook answer's fields; any others are the hook's modifications (offlinePushInfo, content…). */
export interface OpenImAnswerFields {
  readonly actionCode?: number;
  readonly nextCode?: number;
  readonly errCode?: number;
  readonly errMsg?: string;
  readonly errDlt?: string;
  readonly [modification: string]: unknown;
}

/** OpenIM-style answers, as an OpenIM business server writes them over HTTP. */
export const openImAnswer = {
  /** Go on; with fields, go on with these modifications (the hook's own fields, e.g. `userIDList`). */
  allow: (modifications: Record<string, unknown> = {}): HookProviderAnswer => ({
    body: { actionCode: 0, nextCode: 0, errCode: 0, errMsg: "", errDlt: "", ...modifications },
  }),
  /** Stop the action; the sender gets errCode (5000-9999), errMsg and errDlt. */
  deny: (errCode: number, errMsg: string, errDlt = ""): HookProviderAnswer => ({
    body: { actionCode: 0, nextCode: 1, errCode, errMsg, errDlt },
  }),
  /** Any answer, field by field. */
  of: (fields: OpenImAnswerFields): HookProviderAnswer => ({ body: { ...fields } }),
};
