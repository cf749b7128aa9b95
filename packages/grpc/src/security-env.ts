import { z } from "zod";

/** A bearer token for a gRPC port. It travels as metadata, so visible ASCII only; long enough not to guess. */
export const grpcAuthToken = z
  .string()
  .regex(/^[\x21-\x7e]{16,}$/, { error: "expected 16 or more visible ASCII characters (no spaces)" });

const pemFile = z.string().min(1);

/**
 * What a Herald gRPC server (gateway, log store) reads to secure its port; all optional. TLS needs
 * the certificate and its key; client certificates (mTLS) need TLS; the token works with or without.
 */
export const grpcServerEnv = {
  GRPC_TLS_CERT_FILE: pemFile.optional(),
  GRPC_TLS_KEY_FILE: pemFile.optional(),
  GRPC_TLS_CLIENT_CA_FILE: pemFile.optional(),
  GRPC_AUTH_TOKEN: grpcAuthToken.optional(),
};

export type GrpcServerEnv = { [K in keyof typeof grpcServerEnv]?: string | undefined };

export type GrpcClientEnvKey<P extends string> =
  `${P}_TLS_CA_FILE` | `${P}_TLS_CERT_FILE` | `${P}_TLS_KEY_FILE` | `${P}_AUTH_TOKEN`;

export type GrpcClientEnv<P extends string> = { [K in GrpcClientEnvKey<P>]?: string | undefined };

/**
 * What a gRPC client of another Herald service reads, named after that service: `grpcClientEnv("LOGSTORE")`
 * is LOGSTORE_TLS_CA_FILE (trust: TLS on), LOGSTORE_TLS_CERT_FILE and _KEY_FILE (a client certificate,
 * for mTLS) and LOGSTORE_AUTH_TOKEN (the server's GRPC_AUTH_TOKEN).
 */
export function grpcClientEnv<P extends string>(
  prefix: P,
): Record<GrpcClientEnvKey<P>, z.ZodOptional<z.ZodString>> {
  // Computed keys widen to string; the record type says which four they are.
  const shape: Record<string, z.ZodOptional<z.ZodString>> = {
    [`${prefix}_TLS_CA_FILE`]: pemFile.optional(),
    [`${prefix}_TLS_CERT_FILE`]: pemFile.optional(),
    [`${prefix}_TLS_KEY_FILE`]: pemFile.optional(),
    [`${prefix}_AUTH_TOKEN`]: grpcAuthToken.optional(),
  };
  return shape;
}
