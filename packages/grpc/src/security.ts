import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { credentials, ServerCredentials, type ChannelCredentials, type ClientOptions } from "@grpc/grpc-js";
import { ConfigError, ensureError } from "@herald/runtime";
import type { GrpcClientEnv, GrpcServerEnv } from "./security-env.js";
import { sendToken } from "./token.js";

/** How a gRPC server's port is secured; empty: plaintext, no token (loopback use only). */
export interface GrpcServerSecurity {
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  token?: string;
}

/** How a gRPC client reaches a secured server: `ca` or `cert` turns TLS on, `cert`+`key` for mTLS. */
export interface GrpcClientSecurity {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
}

/** Reads the files that GRPC_TLS_* name, checked now so that a bad file stops the start with its name. */
export function grpcServerSecurity(env: GrpcServerEnv): GrpcServerSecurity {
  const pair = certificatePair(env, "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE");
  if (pair === undefined && env.GRPC_TLS_CLIENT_CA_FILE !== undefined) {
    throw new ConfigError(
      "GRPC_TLS_CLIENT_CA_FILE: client certificates need TLS: set GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE too",
      { field: "GRPC_TLS_CLIENT_CA_FILE" },
    );
  }
  const clientCa =
    env.GRPC_TLS_CLIENT_CA_FILE === undefined
      ? undefined
      : readCertificates(env.GRPC_TLS_CLIENT_CA_FILE, "GRPC_TLS_CLIENT_CA_FILE");
  return {
    ...(pair && { tls: { ...pair, ...(clientCa && { clientCa }) } }),
    ...(env.GRPC_AUTH_TOKEN !== undefined && { token: env.GRPC_AUTH_TOKEN }),
  };
}

/** Reads the files that `<prefix>_TLS_*` name (see grpcClientEnv). */
export function grpcClientSecurity<P extends string>(env: GrpcClientEnv<P>, prefix: P): GrpcClientSecurity {
  // Template-literal keys of a generic prefix: read them as plain names.
  const vars = env as Record<string, string | undefined>;
  const pair = certificatePair(vars, `${prefix}_TLS_CERT_FILE`, `${prefix}_TLS_KEY_FILE`);
  const caFile = vars[`${prefix}_TLS_CA_FILE`];
  const token = vars[`${prefix}_AUTH_TOKEN`];
  return {
    ...(caFile !== undefined && { ca: readCertificates(caFile, `${prefix}_TLS_CA_FILE`) }),
    ...pair,
    ...(token !== undefined && { token }),
  };
}

export function serverCredentials(security: GrpcServerSecurity): ServerCredentials {
  const tls = security.tls;
  if (tls === undefined) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.clientCa ?? null,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    tls.clientCa !== undefined,
  );
}

/** Credentials and options for a generated client: `new XClient(address, setup.credentials, setup.options)`. */
export function grpcClientSetup(security: GrpcClientSecurity = {}): {
  credentials: ChannelCredentials;
  options: ClientOptions;
} {
  const tls = security.ca !== undefined || security.cert !== undefined;
  return {
    credentials: tls
      ? credentials.createSsl(security.ca ?? null, security.key ?? null, security.cert ?? null)
      : credentials.createInsecure(),
    options: {
      // Per-call statistics for a debugging service nothing here reads.
      "grpc.enable_channelz": 0,
      ...(security.token === undefined ? {} : { interceptors: [sendToken(security.token)] }),
    },
  };
}

/** The certificate chain and key that certField and keyField name: both or neither, and matching. */
function certificatePair(
  env: Record<string, string | undefined>,
  certField: string,
  keyField: string,
): { cert: Buffer; key: Buffer } | undefined {
  const certFile = env[certField];
  const keyFile = env[keyField];
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    const [missing, given] = certFile === undefined ? [certField, keyField] : [keyField, certField];
    throw new ConfigError(`${missing}: required with ${given}`, { field: missing });
  }
  const cert = readCertificates(certFile, certField);
  const keyPem = readPem(keyFile, keyField);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new ConfigError(`${keyField}: ${keyFile} holds no PEM private key`, {
      field: keyField,
      cause: err,
    });
  }
  if (!new X509Certificate(cert).checkPrivateKey(key)) {
    throw new ConfigError(`${keyField}: ${keyFile} is not the key of the certificate in ${certFile}`, {
      field: keyField,
    });
  }
  return { cert, key: keyPem };
}

/** A PEM file of one or more certificates (the first is parsed to check it is one). */
function readCertificates(file: string, field: string): Buffer {
  const pem = readPem(file, field);
  try {
    new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(`${field}: ${file} holds no PEM certificate`, { field, cause: err });
  }
  return pem;
}

function readPem(file: string, field: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${field}: cannot read ${file}: ${ensureError(err).message}`, {
      field,
      cause: err,
    });
  }
}
