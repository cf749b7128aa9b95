import { randomBytes } from "node:crypto";
import { UsageError } from "./errors.js";

/** The dialects an endpoint may speak, as the admin API names them, with the spellings people also use. */
export const DIALECT_NAMES = ["standard", "openim", "rongcloud", "mqttchat", "tencent"] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];

const ALIASES: Readonly<Record<string, DialectName>> = {
  "standard-webhooks": "standard",
  "mqtt-chat": "mqttchat",
};

export function dialectName(value: string, flag = "--dialect"): DialectName {
  const name = ALIASES[value.toLowerCase()] ?? value.toLowerCase();
  if ((DIALECT_NAMES as readonly string[]).includes(name)) return name as DialectName;
  throw new UsageError(
    flag,
    `expected one of ${DIALECT_NAMES.join(", ")} (or standard-webhooks, mqtt-chat), got ${JSON.stringify(value)}`,
  );
}

/** What an endpoint signs with, as the CLI sets it up and a receiver checks it. */
export interface EndpointSigning {
  /** standard: the whsec_ secret; rongcloud: the appSecret; tencent: the token. */
  secret?: string;
  /** rongcloud: the appKey in the query. */
  appKey?: string;
  /** tencent: the SdkAppid in the query. */
  sdkAppId?: string;
}

export interface SigningFlags {
  secret?: string;
  appKey?: string;
  sdkAppId?: string;
}

/**
 * The signing material for a new endpoint: the given one, or a fresh secret where the dialect signs
 * (the admin API shows secrets redacted, so the CLI makes them and prints them once).
 */
export function signingFor(dialect: DialectName, flags: SigningFlags, appId: string): EndpointSigning {
  switch (dialect) {
    case "standard":
      return { secret: flags.secret ?? `whsec_${randomBytes(24).toString("base64")}` };
    case "rongcloud":
      return { secret: flags.secret ?? randomBytes(16).toString("hex"), appKey: flags.appKey ?? appId };
    case "tencent":
      return {
        secret: flags.secret ?? randomBytes(16).toString("hex"),
        sdkAppId: flags.sdkAppId ?? "1400000000",
      };
    default:
      return {};
  }
}

/** The endpoint body's fields that carry the signing material. */
export function signingBody(dialect: DialectName, signing: EndpointSigning): Record<string, unknown> {
  switch (dialect) {
    case "standard":
      return signing.secret === undefined ? {} : { secrets: [{ value: signing.secret }] };
    case "rongcloud":
      return { rongcloud: { appKey: signing.appKey, appSecret: signing.secret } };
    case "tencent":
      return {
        tencent: {
          sdkAppId: signing.sdkAppId,
          ...(signing.secret === undefined ? {} : { token: signing.secret }),
        },
      };
    default:
      return {};
  }
}

/** "secret whsec_…", "appKey k, appSecret s": the signing material as a line says it. */
export function describeSigning(dialect: DialectName, signing: EndpointSigning): string | undefined {
  switch (dialect) {
    case "standard":
      return signing.secret && `secret ${signing.secret}`;
    case "rongcloud":
      return `appKey ${signing.appKey}, appSecret ${signing.secret}`;
    case "tencent":
      return (
        `SdkAppid ${signing.sdkAppId}` + (signing.secret === undefined ? "" : `, token ${signing.secret}`)
      );
    default:
      return undefined;
  }
}
