export {
  appEgressPolicy,
  checkAddress,
  PUBLIC_ONLY,
  type AddressVerdict,
  type EgressPolicy,
} from "./address-policy.js";
export { createAppAgents, type AppAgents } from "./app-agents.js";
export { egressEnvSchema } from "./egress-env.js";
export { DestinationRefusedError, findDestinationRefused } from "./errors.js";
export { checkDestinationHost, checkDestinationUrl } from "./destination-url.js";
export {
  createHookProviders,
  type HookCall,
  type HookProviderOptions,
  type HookProviders,
  type ProviderTarget,
} from "./hook-provider.js";
export { createGuardedAgent, type GuardedAgent, type GuardedAgentOptions } from "./guarded-agent.js";
export {
  callBusinessServer,
  RESPONSE_LIMIT_BYTES,
  type CallFailure,
  type CallResult,
  type OutboundRequest,
  type ResponseHeaders,
} from "./call.js";
export { parseRetryAfter } from "./retry-after.js";
