import { readFileSync } from "node:fs";
import path from "node:path";
import { UsageError } from "./errors.js";

/** Where Herald is, as the global flags and the environment say, completed from a local `npm start`. */
export interface TargetOptions {
  grpc?: string;
  admin?: string;
  token?: string;
}

export interface Target {
  /** host:port of the gateway's gRPC server (herald.v1.HeraldService). */
  grpc: string;
  /** The admin API's base URL, without a trailing slash. */
  admin: string;
  /** The admin token (or an app key), if any was found. */
  adminToken: string | undefined;
  /** The gRPC port's GRPC_AUTH_TOKEN, if set. */
  grpcToken: string | undefined;
  /** The directory `npm start` keeps its state in ($HERALD_HOME, else ./.herald). */
  home: string;
  /** Where each address came from, for error messages: "--grpc", "HERALD_GRPC", "<home>/ports.json", "default". */
  from: { grpc: string; admin: string; token: string };
}

/** The ports a local `npm start` chose, as it writes them to <HERALD_HOME>/ports.json. */
export interface LocalPorts {
  grpc?: number;
  admin?: number;
}

const LOCAL_HOST = "127.0.0.1";
const DEFAULT_GRPC_PORT = 50051;
const DEFAULT_ADMIN_PORT = 8088;

/**
 * Flags first, then the environment (HERALD_GRPC, HERALD_ADMIN_URL, ADMIN_TOKEN, GRPC_AUTH_TOKEN), then
 * what a local `npm start` left in $HERALD_HOME (ports.json, admin-token), then its default ports.
 */
export function resolveTarget(
  opts: TargetOptions,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Target {
  const home = path.resolve(cwd, nonEmpty(env["HERALD_HOME"]) ?? ".herald");
  const portsFile = path.join(home, "ports.json");
  const ports = readLocalPorts(portsFile);
  const tokenFile = path.join(home, "admin-token");
  const fileToken = readTokenFile(tokenFile);

  const grpc = pickAddress(
    [opts.grpc, "--grpc"],
    [env["HERALD_GRPC"], "HERALD_GRPC"],
    [ports?.grpc === undefined ? undefined : `${LOCAL_HOST}:${ports.grpc}`, portsFile],
    [`${LOCAL_HOST}:${DEFAULT_GRPC_PORT}`, "default"],
  );
  const admin = pickAddress(
    [opts.admin, "--admin"],
    [env["HERALD_ADMIN_URL"], "HERALD_ADMIN_URL"],
    [ports?.admin === undefined ? undefined : `http://${LOCAL_HOST}:${ports.admin}`, portsFile],
    [`http://${LOCAL_HOST}:${DEFAULT_ADMIN_PORT}`, "default"],
  );
  const token = pick(
    [opts.token, "--token"],
    [env["ADMIN_TOKEN"], "ADMIN_TOKEN"],
    [fileToken, tokenFile],
    [undefined, "none"],
  );
  checkGrpcAddress(grpc.value, grpc.from);
  const adminUrl = checkAdminUrl(admin.value, admin.from);
  return {
    grpc: grpc.value,
    admin: adminUrl,
    adminToken: token.value,
    grpcToken: nonEmpty(env["GRPC_AUTH_TOKEN"]),
    home,
    from: { grpc: grpc.from, admin: admin.from, token: token.from },
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/** The first candidate given, with where it came from; the last one is the fallback. */
function pick(...candidates: Array<[string | undefined, string]>): {
  value: string | undefined;
  from: string;
} {
  for (const [value, from] of candidates) {
    const given = nonEmpty(value);
    if (given !== undefined) return { value: given, from };
  }
  return { value: undefined, from: candidates.at(-1)?.[1] ?? "none" };
}

function pickAddress(...candidates: Array<[string | undefined, string]>): { value: string; from: string } {
  const found = pick(...candidates);
  return { value: found.value ?? "", from: found.from };
}

/** ports.json as `npm start` writes it; absent is fine (Herald may run elsewhere), unreadable is not. */
export function readLocalPorts(file: string): LocalPorts | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(file, `cannot read it: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(file, "is not JSON; remove it, or start Herald again to rewrite it");
  }
  if (typeof value !== "object" || value === null) throw new UsageError(file, "is not a JSON object");
  const record = value as Record<string, unknown>;
  return { grpc: port(record, "grpc", file), admin: port(record, "admin", file) };
}

function port(record: Record<string, unknown>, key: string, file: string): number | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new UsageError(`${file}: ${key}`, `expected a port 1-65535, got ${JSON.stringify(value)}`);
  }
  return value;
}

function readTokenFile(file: string): string | undefined {
  try {
    return nonEmpty(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

function checkGrpcAddress(address: string, from: string): void {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
    throw new UsageError(
      from === "default" ? "--grpc" : from,
      `expected host:port, got ${JSON.stringify(address)}`,
    );
  }
}

function checkAdminUrl(url: string, from: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(from, `expected an http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UsageError(from, `expected an http(s) URL, got ${JSON.stringify(url)}`);
  }
  return url.replace(/\/+$/, "");
}
