import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UsageError } from "./errors.js";
import { resolveTarget } from "./target.js";

let cwd: string;

beforeEach(() => {
  cwd = mkdtempSync(path.join(tmpdir(), "herald-target-"));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

/** Writes files into `dir` (relative to cwd) as npm start would leave them. */
function stateDir(dir: string, files: Record<string, string>): void {
  mkdirSync(path.join(cwd, dir), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(cwd, dir, name), text);
}

const PORTS = JSON.stringify({
  grpc: 6001,
  logstoreGrpc: 6002,
  admin: 6003,
  nats: 4222,
  health: { gateway: 6004 },
});

describe("resolveTarget", () => {
  it("takes a local npm start's default ports when there is no ports.json", () => {
    expect(resolveTarget({}, {}, cwd)).toMatchObject({
      grpc: "127.0.0.1:50051",
      admin: "http://127.0.0.1:8088",
      adminToken: undefined,
      home: path.join(cwd, ".herald"),
    });
  });

  it("reads ./.herald's ports.json and admin-token", () => {
    stateDir(".herald", { "ports.json": PORTS, "admin-token": "tok-123\n" });
    expect(resolveTarget({}, {}, cwd)).toMatchObject({
      grpc: "127.0.0.1:6001",
      admin: "http://127.0.0.1:6003",
      adminToken: "tok-123",
    });
  });

  it("reads HERALD_HOME's instead, relative to the working directory", () => {
    stateDir("elsewhere", { "ports.json": PORTS });
    expect(resolveTarget({}, { HERALD_HOME: "elsewhere" }, cwd).grpc).toBe("127.0.0.1:6001");
  });

  it("prefers flags to the environment, and the environment to the files", () => {
    stateDir(".herald", { "ports.json": PORTS, "admin-token": "file-token" });
    const env = { HERALD_GRPC: "h:1", HERALD_ADMIN_URL: "http://h:2/", ADMIN_TOKEN: "env-token" };
    expect(resolveTarget({}, env, cwd)).toMatchObject({
      grpc: "h:1",
      admin: "http://h:2",
      adminToken: "env-token",
    });
    expect(resolveTarget({ grpc: "f:3", admin: "https://f:4", token: "flag" }, env, cwd)).toMatchObject({
      grpc: "f:3",
      admin: "https://f:4",
      adminToken: "flag",
    });
  });

  it("names what is wrong: a bad address, or a ports.json that is not npm start's", () => {
    const fieldOf = (work: () => unknown) => {
      try {
        work();
      } catch (err) {
        if (err instanceof UsageError) return err.field;
        throw err;
      }
      return undefined;
    };
    expect(fieldOf(() => resolveTarget({ grpc: "no-port" }, {}, cwd))).toBe("--grpc");
    expect(fieldOf(() => resolveTarget({}, { HERALD_ADMIN_URL: "ftp://x" }, cwd))).toBe("HERALD_ADMIN_URL");
    stateDir(".herald", { "ports.json": JSON.stringify({ grpc: "50051" }) });
    expect(fieldOf(() => resolveTarget({}, {}, cwd))).toBe(
      `${path.join(cwd, ".herald", "ports.json")}: grpc`,
    );
  });
});
