import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FixtureStartError } from "./errors.js";
import { findExecutable, makeRunTempDir } from "./process-lifetime.js";

/** One certificate and its key, as files (for a service's env) and as PEM bytes (for a client in the test). */
export interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/** A private CA with a server certificate (localhost, 127.0.0.1) and a client certificate it signed. */
export interface TestPki {
  caFile: string;
  ca: Buffer;
  server: TestCertificate;
  client: TestCertificate;
}

/**
 * Makes a fresh CA, a server and a client certificate (P-256, valid one day) with the `openssl`
 * CLI, in a temp dir removed when the test process exits. Node's crypto can check certificates but
 * not issue them.
 */
export async function makeTestPki(): Promise<TestPki> {
  const openssl = findExecutable("openssl");
  if (openssl === undefined) {
    throw new FixtureStartError("openssl is not on PATH: install it (apt-get install openssl)", "tls");
  }
  const dir = await makeRunTempDir("tls");
  const file = (name: string) => path.join(dir, name);
  const run = (...args: string[]) => execFileSync(openssl, args, { cwd: dir, stdio: "pipe" });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

  run(
    "req",
    "-x509",
    ...newKey,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=Herald test CA",
  );
  const issue = (name: string, extensions: string): TestCertificate => {
    writeFileSync(file(`${name}.ext`), extensions);
    run(
      "req",
      "-new",
      ...newKey,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=herald-${name}`,
    );
    run(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-set_serial",
      String(randomInt(1, 2 ** 47)),
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`,
    );
    const certFile = file(`${name}.crt`);
    const keyFile = file(`${name}.key`);
    return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
  };
  return {
    caFile: file("ca.crt"),
    ca: readFileSync(file("ca.crt")),
    server: issue("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
    client: issue("client", "extendedKeyUsage=clientAuth\n"),
  };
}
