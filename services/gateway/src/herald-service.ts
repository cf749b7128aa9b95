import type { Metadata, ServerDuplexStream, sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import {
  BeforeRequest,
  type BeforeStreamRequest,
  type BeforeStreamResponse,
  type BeforeResponse,
  type HeraldServiceServer,
  type PublishRequest,
  type PublishResponse,
  type PublishStreamRequest,
  type PublishStreamResponse,
} from "@herald/proto";
import {
  NotFoundError,
  SpanKind,
  TRACE_HEADERS,
  ValidationError,
  endSpan,
  ensureError,
  errorField,
  extractTrace,
  startSpan,
  tracedLogger,
  type Logger,
  type TraceContext,
} from "@herald/runtime";
import type { PublishBatch } from "./publisher.js";
import type { BeforeHandler } from "./before.js";
import { errorDetails, grpcCode, toServiceError, wireError, wireProblem } from "@herald/grpc";
import type { GatewayMetrics } from "./metrics.js";

export interface HeraldServiceOptions {
  publish: PublishBatch;
  before: BeforeHandler;
  log: Logger;
  metrics: GatewayMetrics;
  /** Batches of one stream being stored at once; the stream is paused beyond it. */
  streamWindow: number;
}

/** Open PublishStream calls, so that a drain can end them once their batches are answered. */
export interface StreamRegistry {
  endAll(): Promise<void>;
}

export function createHeraldService(opts: HeraldServiceOptions): {
  service: HeraldServiceServer;
  streams: StreamRegistry;
} {
  const { log, metrics } = opts;
  const openStreams = new Set<{ end(): Promise<void> }>();

  async function publishOnce(
    events: PublishRequest["events"],
    trace: TraceContext,
  ): Promise<PublishResponse> {
    const stop = metrics.publishSeconds.startTimer();
    try {
      const results = await opts.publish(events, trace);
      metrics.events.inc({ outcome: "stored" }, results.filter((r) => !r.duplicate).length);
      metrics.events.inc({ outcome: "duplicate" }, results.filter((r) => r.duplicate).length);
      stop({ outcome: "ok" });
      return { results };
    } catch (err) {
      stop({ outcome: isRefusal(err) ? "invalid" : "error" });
      throw err;
    }
  }

  const service: HeraldServiceServer = {
    before(call: ServerUnaryCall<BeforeRequest, BeforeResponse>, callback: sendUnaryData<BeforeResponse>) {
      const stop = metrics.beforeSeconds.startTimer();
      const { span, ctx } = rpcSpan("Before", callTrace(call.metadata));
      opts.before(call.request, ctx).then(
        (res) => {
          stop();
          endSpan(span);
          callback(null, res);
        },
        (err: unknown) => {
          stop();
          endSpan(span, err);
          if (!isRefusal(err)) tracedLogger(log, ctx).error({ err }, "before-hook failed");
          callback(toServiceError(err, "Before"));
        },
      );
    },

    publish(
      call: ServerUnaryCall<PublishRequest, PublishResponse>,
      callback: sendUnaryData<PublishResponse>,
    ) {
      const { span, ctx } = rpcSpan("Publish", callTrace(call.metadata));
      publishOnce(call.request.events, ctx).then(
        (res) => {
          endSpan(span);
          callback(null, res);
        },
        (err: unknown) => {
          endSpan(span, err);
          logFailure(tracedLogger(log, ctx), err, call.request.events.length);
          callback(toServiceError(err, "Publish"));
        },
      );
    },

    beforeStream(call: ServerDuplexStream<BeforeStreamRequest, BeforeStreamResponse>) {
      // Each answer goes out as soon as it is decided; the client matches them by request id.
      // The stream's metadata holds one trace for the whole stream: each request is a span of it.
      const streamTrace = callTrace(call.metadata);
      let open = 0;
      let ended = false;
      let drained = () => {};
      const finish = () => {
        if (!ended || open > 0) return;
        openStreams.delete(entry);
        drained();
        if (!call.writableEnded) call.end();
      };
      const entry = {
        end: () =>
          new Promise<void>((resolve) => {
            ended = true;
            call.pause();
            drained = resolve;
            finish();
          }),
      };
      openStreams.add(entry);
      call.on("data", (req: BeforeStreamRequest) => {
        if (ended) return;
        open += 1;
        const stop = metrics.beforeSeconds.startTimer();
        const { requestId } = req;
        // The request's own fields are checked with it; here only what is outside it (request_id).
        const unreadable =
          req.request === undefined || !wireProblem(req.request) ? wireError(req) : undefined;
        const { span, ctx } = rpcSpan("BeforeStream", streamTrace);
        void (
          unreadable ? Promise.reject(unreadable) : opts.before(req.request ?? BeforeRequest.create(), ctx)
        )
          .then(
            (response): BeforeStreamResponse => ({ requestId, response, error: undefined }),
            (err: unknown): BeforeStreamResponse => {
              if (!isRefusal(err)) tracedLogger(log, ctx).error({ err }, "before-hook failed");
              endSpan(span, err);
              return { requestId, response: undefined, error: streamError(err) };
            },
          )
          .then((res) => {
            if (res.error === undefined) endSpan(span);
            stop();
            open -= 1;
            if (!call.writableEnded && !call.destroyed) call.write(res);
            finish();
          });
      });
      call.on("end", () => {
        ended = true;
        finish();
      });
      call.on("error", (err) => {
        openStreams.delete(entry);
        log.debug({ err }, "before stream closed by the client");
      });
    },

    publishStream(call: ServerDuplexStream<PublishStreamRequest, PublishStreamResponse>) {
      const streamTrace = callTrace(call.metadata);
      let answered = Promise.resolve();
      let inFlight = 0;
      let ending = false;
      const entry = {
        end: async () => {
          ending = true;
          call.pause();
          await answered;
          call.end();
        },
      };
      openStreams.add(entry);

      call.on("data", (req: PublishStreamRequest) => {
        if (ending) return;
        inFlight += 1;
        if (inFlight >= opts.streamWindow) call.pause();
        // Batches are stored concurrently and answered in the order they came.
        const { batchId } = req;
        const unreadable = wireError(req);
        const { span, ctx } = rpcSpan("PublishStream", streamTrace);
        const result = (unreadable ? Promise.reject(unreadable) : publishOnce(req.events, ctx)).then(
          (res): PublishStreamResponse => {
            endSpan(span);
            return { batchId, results: res.results, error: undefined };
          },
          (err: unknown): PublishStreamResponse => {
            endSpan(span, err);
            logFailure(tracedLogger(log, ctx), err, req.events.length);
            return { batchId, results: [], error: streamError(err) };
          },
        );
        answered = answered.then(async () => {
          const res = await result;
          inFlight -= 1;
          if (!call.writableEnded && !call.destroyed) call.write(res);
          if (!ending && inFlight < opts.streamWindow) call.resume();
        });
      });
      call.on("end", () => {
        void answered.then(() => {
          openStreams.delete(entry);
          if (!call.writableEnded) call.end();
        });
      });
      call.on("error", (err) => {
        openStreams.delete(entry);
        log.debug({ err }, "publish stream closed by the client");
      });
      call.on("cancelled", () => openStreams.delete(entry));
    },
  };

  return {
    service,
    streams: { endAll: () => Promise.all([...openStreams].map((s) => s.end())).then(() => undefined) },
  };
}

/** A refusal as a streamed answer carries it: the status name, the message, the bad field. */
function streamError(err: unknown): { code: string; message: string; field: string } {
  const e = ensureError(err);
  const code = grpcCode(e);
  return {
    code: status[code],
    message: errorDetails(e, "publish"),
    field: errorField(e) ?? "",
  };
}

/** The caller's mistake (a bad field, an app configured nowhere): not logged as the gateway's failure. */
function isRefusal(err: unknown): boolean {
  return err instanceof ValidationError || err instanceof NotFoundError;
}

function logFailure(log: Logger, err: unknown, size: number): void {
  if (err instanceof ValidationError) {
    log.info({ field: err.field, size }, "publish refused: invalid event");
  } else if (err instanceof NotFoundError) {
    log.info({ field: err.field, appId: err.id, size }, "publish refused: unknown app");
  } else {
    log.warn({ err, size }, "publish failed");
  }
}

/** The trace a chat core sent in the call's metadata (`traceparent`, `tracestate`), or none. */
function callTrace(metadata: Metadata): TraceContext {
  const parent = metadata.get(TRACE_HEADERS.parent)[0];
  if (typeof parent !== "string") return extractTrace(undefined);
  const state = metadata.get(TRACE_HEADERS.state)[0];
  return extractTrace({
    [TRACE_HEADERS.parent]: parent,
    ...(typeof state === "string" ? { [TRACE_HEADERS.state]: state } : {}),
  });
}

/** The gateway's span of one call (a stream's: of one request or batch). */
function rpcSpan(method: string, parent: TraceContext) {
  return startSpan(`herald.v1.HeraldService/${method}`, parent, {
    kind: SpanKind.SERVER,
    attributes: { "rpc.system": "grpc", "rpc.service": "herald.v1.HeraldService", "rpc.method": method },
  });
}
