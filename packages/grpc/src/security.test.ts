import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { ConfigError, createLogger } from "@herald/runtime";
import { makeTestPki, type TestPki } from "@herald/testkit";
import { grpcAuthToken, grpcServerEnv } from "./security-env.js";
import { grpcClientSecurity, grpcServerSecurity } from "./security.js";
import { isLoopback, startGrpcServer, type GrpcServer } from "./server.js";

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});

/** The ConfigError that `load` throws: the field it names and its message. */
function configError(load: () => unknown): { field: string; message: string } {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return { field: err.field, message: err.message };
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("the server's env", () => {
  it("unset is plaintext with no token", () => {
    expect(grpcServerSecurity({})).toEqual({});
  });

  it("reads a certificate with its key, the client CA and the token", () => {
    const security = grpcServerSecurity({
      GRPC_TLS_CERT_FILE: pki.server.certFile,
      GRPC_TLS_KEY_FILE: pki.server.keyFile,
      GRPC_TLS_CLIENT_CA_FILE: pki.caFile,
      GRPC_AUTH_TOKEN: "a-token-of-sixteen-or-more",
    });
    expect(security).toEqual({
      tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca },
      token: "a-token-of-sixteen-or-more",
    });
  });

  it("names the variable that is missing, unreadable or wrong", () => {
    const { certFile, keyFile } = pki.server;
    expect(configError(() => grpcServerSecurity({ GRPC_TLS_CERT_FILE: certFile }))).toMatchObject({
      field: "GRPC_TLS_KEY_FILE",
    });
    expect(configError(() => grpcServerSecurity({ GRPC_TLS_KEY_FILE: keyFile }))).toMatchObject({
      field: "GRPC_TLS_CERT_FILE",
    });
    const caOnly = configError(() => grpcServerSecurity({ GRPC_TLS_CLIENT_CA_FILE: pki.caFile }));
    expect(caOnly.field).toBe("GRPC_TLS_CLIENT_CA_FILE");
    expect(caOnly.message).toMatch(/need TLS/);
    const missing = path.join(path.dirname(certFile), "nowhere.crt");
    const unreadable = configError(() =>
      grpcServerSecurity({ GRPC_TLS_CERT_FILE: missing, GRPC_TLS_KEY_FILE: keyFile }),
    );
    expect(unreadable.field).toBe("GRPC_TLS_CERT_FILE");
    expect(unreadable.message).toContain(missing);
    // A key where the certificate goes, the client's key with the server's certificate.
    const keyAsCert = configError(() =>
      grpcServerSecurity({ GRPC_TLS_CERT_FILE: keyFile, GRPC_TLS_KEY_FILE: keyFile }),
    );
    expect(keyAsCert.field).toBe("GRPC_TLS_CERT_FILE");
    expect(keyAsCert.message).toMatch(/no PEM certificate/);
    const otherKey = configError(() =>
      grpcServerSecurity({ GRPC_TLS_CERT_FILE: certFile, GRPC_TLS_KEY_FILE: pki.client.keyFile }),
    );
    expect(otherKey.field).toBe("GRPC_TLS_KEY_FILE");
    expect(otherKey.message).toMatch(/not the key/);
    const notAKey = path.join(path.dirname(certFile), "not-a-key.pem");
    writeFileSync(notAKey, "secret words that must not be echoed\n");
    const bad = configError(() =>
      grpcServerSecurity({ GRPC_TLS_CERT_FILE: certFile, GRPC_TLS_KEY_FILE: notAKey }),
    );
    expect(bad).toMatchObject({ field: "GRPC_TLS_KEY_FILE" });
    expect(bad.message).not.toContain("secret words");
  });

  it("takes a token of 16 or more visible ASCII characters only", () => {
    expect(grpcServerEnv.GRPC_AUTH_TOKEN.safeParse("0123456789abcdef").success).toBe(true);
    for (const bad of ["short", "sixteen chars with space", "令牌令牌令牌令牌令牌令牌令牌令牌"]) {
      expect(grpcAuthToken.safeParse(bad).success).toBe(false);
    }
  });
});

describe("a client's env, under its prefix", () => {
  it("reads the CA, the client certificate and the token", () => {
    expect(
      grpcClientSecurity(
        {
          LOGSTORE_TLS_CA_FILE: pki.caFile,
          LOGSTORE_TLS_CERT_FILE: pki.client.certFile,
          LOGSTORE_TLS_KEY_FILE: pki.client.keyFile,
          LOGSTORE_AUTH_TOKEN: "a-token-of-sixteen-or-more",
        },
        "LOGSTORE",
      ),
    ).toEqual({
      ca: pki.ca,
      cert: pki.client.cert,
      key: pki.client.key,
      token: "a-token-of-sixteen-or-more",
    });
  });

  it("names the prefixed variable", () => {
    expect(
      configError(() => grpcClientSecurity({ LOGSTORE_TLS_CERT_FILE: pki.client.certFile }, "LOGSTORE")),
    ).toMatchObject({ field: "LOGSTORE_TLS_KEY_FILE" });
  });
});

describe("the warning at start", () => {
  const servers: GrpcServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.shutdown(AbortSignal.timeout(5000))));
  });

  async function linesOfStart(host: string, token?: string): Promise<string[]> {
    const lines: string[] = [];
    const log = createLogger({
      service: "test",
      level: "info",
      destination: { write: (line: string) => void lines.push(line) },
    });
    servers.push(
      await startGrpcServer({ host, port: 0, services: [], log, security: token ? { token } : {} }),
    );
    return lines;
  }

  it("warns when the port is open to the network without authentication, and only then", async () => {
    const warning = /no authentication/;
    expect((await linesOfStart("0.0.0.0")).join("")).toMatch(warning);
    expect((await linesOfStart("127.0.0.1")).join("")).not.toMatch(warning);
    expect((await linesOfStart("0.0.0.0", "a-token-of-sixteen-or-more")).join("")).not.toMatch(warning);
  });

  it("counts loopback addresses and localhost as loopback", () => {
    expect(["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"].filter(isLoopback)).toHaveLength(5);
    expect(["0.0.0.0", "::", "10.0.0.5", "gateway", "127.0.0.1.example.com"].filter(isLoopback)).toEqual([]);
  });
});
