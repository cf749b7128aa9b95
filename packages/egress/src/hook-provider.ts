import { isIP } from "node:net";
import {
  connectivityState,
  credentials,
  status as grpcStatus,
  type ClientDuplexStream,
  type ServiceError,
} from "@grpc/grpc-js";
import { DecideRequest, HookProviderServiceClient, type DecideResponse } from "@herald/proto";
import { appEgressPolicy, type EgressPolicy } from "./address-policy.js";
import {
  NO_HEADERS,
  RESPONSE_LIMIT_BYTES,
  unansweredCall,
  type CallFailure,
  type CallResult,
} from "./call.js";
import { findDestinationRefused } from "./errors.js";
import { guardedLookup } from "./guarded-agent.js";

/** A provider target, split (the dialects' parseGrpcTarget makes it from `grpc://host:port`). */
export interface ProviderTarget {
  /** `grpc://host:port`, as configured: how details and logs name it. */
  readonly target: string;
  /** A DNS name or an IP literal (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
}

/** One hook call as the provider gets it (DecideRequest without the stream's id and the deadline). */
export type HookCall = Omit<DecideRequest, "id" | "deadlineMs">;

/** The evaluator's gRPC hook providers: one Decide stream per target and SSRF policy, kept open. */
export interface HookProviders {
  /**
   * Asks one of `targets` (round-robin over those whose stream is up; one that is down is skipped),
   * with the result shape of callBusinessServer: the answer's status and body, or why none came. A
   * call after a failed one of the same operation goes to another target when there is one.
   */
  decide(
    app: { readonly allowPrivateDestinations: boolean },
    targets: readonly ProviderTarget[],
    call: HookCall,
    timeoutMs: number,
  ): Promise<CallResult>;
  /** Ends every stream and channel; calls still pending fail as network failures. */
  close(): Promise<void>;
}

export interface HookProviderOptions {
  /** The first wait before reopening a broken stream; each failed reopen doubles it (default 100). */
  reconnectMinMs?: number;
  /** The longest wait between reopens (default 2000). */
  reconnectMaxMs?: number;
}

interface Pending {
  resolve: (result: CallResult) => void;
  timer: NodeJS.Timeout;
  started: number;
}

/** A channel no call has used for this long is closed (it is opened again if a call comes). */
const IDLE_CHANNEL_MS = 10 * 60_000;

/**
 * One target under one policy. States: opening (resolving and checking the host), open (a Decide
 * stream exists; "up" once its channel is READY), down (the last open failed or the stream broke: a
 * reopen is scheduled with backoff), closed.
 */
class ProviderChannel {
  private state: "opening" | "open" | "down" | "closed" = "down";
  private client: HookProviderServiceClient | undefined;
  private address = "";
  private stream: ClientDuplexStream<DecideRequest, DecideResponse> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private opening: Promise<void> | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  /** Why the last open failed or the stream broke: what a call sent while it is down gets. */
  private lastFailure: CallFailure;
  /** performance.now() of the last call: a target no config names any more stops being used. */
  lastUsed = performance.now();

  constructor(
    readonly target: ProviderTarget,
    private readonly policy: EgressPolicy,
    private readonly opts: Required<HookProviderOptions>,
  ) {
    this.backoffMs = opts.reconnectMinMs;
    this.lastFailure = { reason: "network", detail: `provider ${target.target}: not connected yet` };
    this.open();
  }

  /** 0: its stream is up; 1: it is connecting; 2: down. */
  rank(): number {
    if (this.state === "opening") return 1;
    if (this.state !== "open" || this.client === undefined) return 2;
    return this.client.getChannel().getConnectivityState(false) === connectivityState.READY ? 0 : 1;
  }

  async send(call: HookCall, timeoutMs: number): Promise<CallResult> {
    const started = performance.now();
    this.lastUsed = started;
    if (this.state === "opening") await this.opening;
    const stream = this.stream;
    if (this.state !== "open" || stream === undefined) {
      return failed(this.lastFailure, started);
    }
    const id = this.nextId++;
    return new Promise<CallResult>((resolve) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          resolve(failed({ reason: "timeout", detail: `no answer within ${timeoutMs} ms` }, started));
        },
        Math.max(1, timeoutMs),
      );
      this.pending.set(id, { resolve, timer, started });
      stream.write(
        DecideRequest.fromPartial({ ...call, id, deadlineMs: Math.max(1, Math.round(timeoutMs)) }),
      );
    });
  }

  close(): void {
    this.state = "closed";
    clearTimeout(this.reopenTimer);
    this.stream?.cancel();
    this.broke({ reason: "network", detail: `provider ${this.target.target}: the evaluator is closing` });
    this.client?.close();
  }

  private open(): void {
    this.state = "opening";
    this.opening = this.connect().catch((err: unknown) => {
      // What the SSRF guard refused is "refused" (no retry helps); a name that does not resolve, network.
      const refused = findDestinationRefused(err);
      const why = refused?.message ?? (err instanceof Error ? err.message : String(err));
      this.down({
        reason: refused ? "refused" : "network",
        detail: `provider ${this.target.target}: ${why}`,
      });
    });
  }

  // Resolves the host through the app's policy and dials the checked address itself (`ipv4:a.b.c.d:port`),
  // so the address connected to is the one checked; a reopen resolves again (DNS answers change).
  private async connect(): Promise<void> {
    const { address, family } = await resolveChecked(this.target.host, this.policy);
    if (this.state === "closed") return;
    const dial =
      family === 6 ? `ipv6:[${address}]:${this.target.port}` : `ipv4:${address}:${this.target.port}`;
    if (this.client === undefined || dial !== this.address) {
      this.client?.close();
      const authority = isIP(this.target.host) === 6 ? `[${this.target.host}]` : this.target.host;
      this.client = new HookProviderServiceClient(dial, credentials.createInsecure(), {
        // Never through an HTTP proxy from the environment: that would connect somewhere unchecked.
        "grpc.enable_http_proxy": 0,
        "grpc.default_authority": `${authority}:${this.target.port}`,
        "grpc.initial_reconnect_backoff_ms": this.opts.reconnectMinMs,
        "grpc.max_reconnect_backoff_ms": this.opts.reconnectMaxMs,
      });
      this.address = dial;
    }
    const stream = this.client.decide();
    this.stream = stream;
    this.state = "open";
    stream.on("data", (answer: DecideResponse) => this.answered(answer));
    stream.on("error", (err: ServiceError) =>
      this.streamEnded(stream, `${grpcStatus[err.code]}: ${err.details}`),
    );
    stream.on("end", () => this.streamEnded(stream, "the provider ended the stream"));
  }

  private answered(answer: DecideResponse): void {
    this.backoffMs = this.opts.reconnectMinMs;
    const pending = this.pending.get(answer.id);
    if (pending === undefined) return; // timed out already: the answer came too late
    this.pending.delete(answer.id);
    clearTimeout(pending.timer);
    const latencyMs = Math.round(performance.now() - pending.started);
    const status = answer.status === 0 ? 200 : answer.status;
    const headers =
      answer.retryAfterMs > 0 ? { ...NO_HEADERS, retryAfterMs: answer.retryAfterMs } : NO_HEADERS;
    if (Buffer.byteLength(answer.body) > RESPONSE_LIMIT_BYTES) {
      const failure: CallFailure = {
        reason: "body",
        detail: `response larger than ${RESPONSE_LIMIT_BYTES} bytes`,
      };
      pending.resolve({ ok: false, status, headers, body: "", bodyIsUtf8: true, latencyMs, failure });
      return;
    }
    pending.resolve({ ok: true, status, headers, body: answer.body, bodyIsUtf8: true, latencyMs });
  }

  private streamEnded(stream: ClientDuplexStream<DecideRequest, DecideResponse>, why: string): void {
    if (stream !== this.stream || this.state === "closed") return;
    stream.cancel();
    this.down({ reason: "network", detail: `provider ${this.target.target}: the stream broke (${why})` });
  }

  private down(failure: CallFailure): void {
    if (this.state === "closed") return;
    this.state = "down";
    this.broke(failure);
    this.reopenTimer = setTimeout(() => this.open(), this.backoffMs);
    this.reopenTimer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.reconnectMaxMs);
  }

  // Calls pending on a stream that is gone fail at once: their answers can no longer come.
  private broke(failure: CallFailure): void {
    this.lastFailure = failure;
    this.stream = undefined;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.resolve(failed(failure, pending.started));
    }
  }
}

function failed(failure: CallFailure, started: number): CallResult {
  return unansweredCall(failure, Math.round(performance.now() - started));
}

function resolveChecked(host: string, policy: EgressPolicy): Promise<{ address: string; family: number }> {
  return new Promise((resolve, reject) =>
    guardedLookup(policy)(host, { all: false }, (err, address, family) => {
      if (err) reject(err);
      else resolve({ address: address as string, family: family ?? 4 });
    }),
  );
}

/**
 * The evaluator's pool of provider channels, one per target and policy (an app that allows private
 * destinations gets its own), each opened on first use and kept open. `allowLoopback` is the
 * process's DELIVERY_ALLOW_LOOPBACK, as for createAppAgents.
 */
export function createHookProviders(allowLoopback: boolean, opts: HookProviderOptions = {}): HookProviders {
  const options: Required<HookProviderOptions> = {
    reconnectMinMs: opts.reconnectMinMs ?? 100,
    reconnectMaxMs: opts.reconnectMaxMs ?? 2_000,
  };
  const channels = new Map<string, ProviderChannel>();
  // The target each operation's last call failed on, so that its retry goes elsewhere.
  const failedOn = new Map<string, string>();
  let turn = 0;
  let sweptAt = performance.now();

  // Closes the channels of targets no call has used for a while (a config change removed them).
  const sweep = (now: number) => {
    sweptAt = now;
    for (const [key, channel] of channels) {
      if (now - channel.lastUsed > IDLE_CHANNEL_MS) {
        channel.close();
        channels.delete(key);
      }
    }
  };

  const channelOf = (policy: EgressPolicy, target: ProviderTarget) => {
    const key = `${policy.allowPrivate ? "private" : "public"} ${target.target}`;
    let channel = channels.get(key);
    if (channel === undefined) {
      channel = new ProviderChannel(target, policy, options);
      channels.set(key, channel);
    }
    return channel;
  };

  return {
    async decide(app, targets, call, timeoutMs) {
      const now = performance.now();
      if (now - sweptAt > IDLE_CHANNEL_MS) sweep(now);
      const policy = appEgressPolicy(app, allowLoopback);
      const operation = `${call.appId} ${call.hook} ${call.operationId}`;
      const avoid = failedOn.get(operation);
      failedOn.delete(operation);
      const start = turn++;
      let best: ProviderChannel | undefined;
      let bestRank = Infinity;
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(start + i) % targets.length] as ProviderTarget;
        const channel = channelOf(policy, target);
        // Up beats connecting beats down; the target the operation just failed on comes after its peers.
        const rank = channel.rank() * 2 + (target.target === avoid ? 1 : 0);
        if (rank < bestRank) [best, bestRank] = [channel, rank];
      }
      if (best === undefined) {
        return failed({ reason: "request", detail: "the provider has no targets" }, performance.now());
      }
      const result = await best.send(call, timeoutMs);
      if (!result.ok || result.status >= 500 || result.status === 429) {
        failedOn.set(operation, best.target.target);
        // Forgotten once no retry of it can come any more.
        setTimeout(() => failedOn.delete(operation), timeoutMs).unref();
      }
      return { ...result, via: best.target.target };
    },
    close() {
      for (const channel of channels.values()) channel.close();
      channels.clear();
      failedOn.clear();
      return Promise.resolve();
    },
  };
}
