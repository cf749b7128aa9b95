import type { Command } from "commander";
import { AdminClient, segment } from "../admin.js";
import { globalsOf, print, printJson } from "../cli-context.js";

/** A node as GET /v1/apps/{appId}/nodes answers it (nodeJson in the admin package's answers.ts). */
export interface NodeJson {
  nodeId: string;
  status: string;
  lastHeartbeatAt: string | null;
  leaseMs: number;
  leaseExpiresAt: string | null;
  resetAt: string | null;
  resetReason: string | null;
  connections: number;
}

/** `herald nodes --app <id>`: an app's chat-core nodes with their heartbeats and leases. */
export function registerNodes(program: Command): void {
  program
    .command("nodes")
    .description(
      "list an app's chat-core nodes: lease status, last heartbeat, lease, connections (admin API)",
    )
    .requiredOption("--app <id>", "the app")
    .action(async (_o: unknown, self: Command) => {
      const { app } = self.opts<{ app: string }>();
      const { target, json } = globalsOf(self);
      const res = await AdminClient.of(target).get<{ now: string; nodes: NodeJson[] }>(
        `/v1/apps/${segment(app)}/nodes`,
      );
      if (json) return printJson(res);
      if (res.nodes.length === 0) {
        return print(`app ${app} has no chat-core nodes on record (no heartbeat, reset or connection yet)`);
      }
      const now = Date.parse(res.now);
      for (const node of res.nodes) print(nodeLine(node, now));
    });
}

/** One node on one line: `<node>  <status>  heartbeat 3s ago  lease 30s  expires in 41s  reset …  N connection(s)`. */
export function nodeLine(node: NodeJson, now: number): string {
  const parts = [node.nodeId, node.status];
  if (node.lastHeartbeatAt !== null) parts.push(`heartbeat ${ago(node.lastHeartbeatAt, now)}`);
  if (node.leaseMs > 0) parts.push(`lease ${formatDuration(node.leaseMs)}`);
  if (node.leaseExpiresAt !== null) {
    const left = Date.parse(node.leaseExpiresAt) - now;
    parts.push(left >= 0 ? `expires in ${formatDuration(left)}` : `expired ${formatDuration(-left)} ago`);
  }
  if (node.resetAt !== null) {
    parts.push(`reset ${ago(node.resetAt, now)}${node.resetReason === null ? "" : ` (${node.resetReason})`}`);
  }
  parts.push(`${node.connections} connection(s)`);
  return parts.join("  ");
}

function ago(at: string, now: number): string {
  const ms = now - Date.parse(at);
  return ms >= 0 ? `${formatDuration(ms)} ago` : `in ${formatDuration(-ms)}`;
}

/** 850ms, 12s, 1.5s, 4m 10s, 2h 5m, 3d 4h. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const units: Array<[string, number]> = [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ];
  const i = units.findIndex(([, size]) => s >= size);
  const [bigName, big] = units[i] as [string, number];
  const [smallName, small] = units[i + 1] as [string, number];
  const rest = Math.floor((s % big) / small);
  return `${Math.floor(s / big)}${bigName}${rest === 0 ? "" : ` ${rest}${smallName}`}`;
}
