import type { BeforeRequest } from "@herald/proto";
import {
  parseGrpcTarget,
  type BeforeHook,
  type DialectBefore,
  type HookProvider,
  type HttpRequestSpec,
} from "@herald/dialects";
import type { AppConfig } from "@herald/config";
import { callBusinessServer, type CallResult, type ProviderTarget } from "@herald/egress";
import type { EvaluatorDeps } from "./evaluate.js";

/** The hook a call is for, with the app's block of its dialect. */
export interface CalledHook {
  readonly dialect: DialectBefore;
  readonly hook: BeforeHook;
  readonly block: unknown;
}

/**
 * Asks the business server about one before-hook: its gRPC provider when the dialect's block names
 * one (the same body as HTTP, the answer read the same way), otherwise its URL over HTTP.
 */
export function callOut(
  deps: Pick<EvaluatorDeps, "agents" | "providers">,
  app: AppConfig,
  { dialect, hook, block }: CalledHook,
  req: Pick<BeforeRequest, "command" | "operationId">,
  spec: HttpRequestSpec,
  timeoutMs: number,
): Promise<CallResult> {
  const provider = dialect.providerOf(block);
  if (provider === undefined) return callBusinessServer(deps.agents.forApp(app), spec, timeoutMs);
  const call = {
    appId: app.appId,
    dialect: dialect.appKey,
    hook: hook.key,
    command: req.command,
    operationId: req.operationId,
    body: spec.body,
  };
  return deps.providers.decide(app, targetsOf(provider), call, timeoutMs);
}

// Config objects live until the next change, so each provider block is split once.
const TARGETS = new WeakMap<HookProvider, readonly ProviderTarget[]>();

function targetsOf(provider: HookProvider): readonly ProviderTarget[] {
  let targets = TARGETS.get(provider);
  if (targets === undefined) {
    // The config's schema checked every target; one that is not (an old stored value) is left out.
    targets = provider.targets.map(parseGrpcTarget).filter((t) => typeof t !== "string");
    TARGETS.set(provider, targets);
  }
  return targets;
}
