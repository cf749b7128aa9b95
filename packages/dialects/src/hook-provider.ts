import { z } from "zod";
import { mapping } from "./zod-text.js";

/** The most targets one provider block may name: failover needs two or three, not a fleet. */
export const MAX_PROVIDER_TARGETS = 4;

/** A provider target as the transport dials it: `grpc://host:port`, split. */
export interface GrpcTarget {
  /** The target as configured, `grpc://host:port`: how logs and errors name it. */
  readonly target: string;
  /** A DNS name or an IP literal (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
}

/**
 * `grpc://host:port` split into host and port, or why it is not one: no path, query, user info or
 * fragment (a provider is a service, not a URL), and an explicit port (gRPC has no default one).
 */
export function parseGrpcTarget(text: string): GrpcTarget | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "expected grpc://host:port";
  }
  if (url.protocol !== "grpc:") return `expected grpc://host:port, not ${url.protocol}//`;
  if (url.username !== "" || url.password !== "") return "a provider target takes no user info";
  if ((url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.hash !== "") {
    return "expected grpc://host:port, without a path, query or fragment";
  }
  if (url.hostname === "") return "expected grpc://host:port: the host is missing";
  if (url.port === "" || url.port === "0") return "expected grpc://host:port: the port is missing";
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return { target: `grpc://${url.host}`, host, port: Number(url.port) };
}

const grpcTargetSchema = z.string({ error: "expected grpc://host:port" }).superRefine((text, ctx) => {
  const parsed = parseGrpcTarget(text);
  if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
});

/**
 * A before-dialect app block's `provider`: the business server answers the app's synchronous
 * before-hooks over gRPC (HookProviderService.Decide) at these targets instead of its HTTP url,
 * round-robin over those that are up. After-hooks and async hooks still go to the url.
 */
export const hookProviderSchema = z.strictObject(
  {
    targets: z
      .array(grpcTargetSchema, { error: "expected a list of grpc://host:port" })
      .min(1, { error: "expected at least one target" })
      .max(MAX_PROVIDER_TARGETS, { error: `expected at most ${MAX_PROVIDER_TARGETS} targets` })
      .refine((targets) => new Set(targets).size === targets.length, {
        error: "a target is listed twice",
      }),
  },
  mapping,
);

export type HookProvider = z.output<typeof hookProviderSchema>;
