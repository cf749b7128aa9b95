import { appEgressPolicy } from "./address-policy.js";
import { createGuardedAgent, type GuardedAgent, type GuardedAgentOptions } from "./guarded-agent.js";

/** Guarded agents shared by every app a process calls for: one pool per distinct policy. */
export interface AppAgents {
  /** The agent that enforces this app's policy (made on first use, then reused). */
  forApp(app: { readonly allowPrivateDestinations: boolean }): GuardedAgent;
  close(): Promise<void>;
}

/**
 * For a service that calls many apps' business servers through shared keep-alive pools (the
 * evaluator): an app that changes its allowPrivateDestinations simply gets the other pool on its
 * next call. There are at most two pools, since the loopback switch is the process's.
 */
export function createAppAgents(allowLoopback: boolean, opts: GuardedAgentOptions = {}): AppAgents {
  const agents = new Map<boolean, GuardedAgent>();
  return {
    forApp(app) {
      const policy = appEgressPolicy(app, allowLoopback);
      let agent = agents.get(policy.allowPrivate);
      if (agent === undefined) {
        agent = createGuardedAgent(policy, opts);
        agents.set(policy.allowPrivate, agent);
      }
      return agent;
    },
    async close() {
      await Promise.all([...agents.values()].map((a) => a.close()));
      agents.clear();
    },
  };
}
