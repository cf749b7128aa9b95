import { randomBytes } from "node:crypto";
import { DIALECTS, type Dialect } from "@herald/dialects";
import { UsageError } from "./errors.js";

/** A dialect an endpoint may speak, as Herald's dialect registry names it. */
export type DialectName = Dialect;

/** The spellings people also use for a registry name. */
const ALIASES: Readonly<Record<string, DialectName>> = {
  "standard-webhooks": "standard",
  "mqtt-chat": "mqttchat",
};

export function dialectName(value: string, flag = "--dialect"): DialectName {
  const name = ALIASES[value.toLowerCase()] ?? value.toLowerCase();
  const known = DIALECTS.find((d) => d === name);
  if (known !== undefined) return known;
  throw new UsageError(
    flag,
    `expected one of ${DIALECTS.join(", ")} (or ${Object.keys(ALIASES).join(", ")}), got ${JSON.stringify(value)}`,
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

/** How one signing dialect's material is made, put in an endpoint's body and shown. */
interface DialectSigning {
  /** The given material, or fresh material (the admin API shows secrets redacted, so the CLI makes them). */
  fresh(flags: SigningFlags, appId: string): EndpointSigning;
  /** The endpoint body's fields that carry it. */
  body(signing: EndpointSigning): Record<string, unknown>;
  /** As a line says it: "secret whsec_…", "appKey k, appSecret s". */
  describe(signing: EndpointSigning): string | undefined;
  /** Whether a receiver knows enough to check a signature. */
  known(signing: EndpointSigning): boolean;
}

const hexSecret = (): string => randomBytes(16).toString("hex");

// The dialects that sign; the others (openim, mqttchat) send nothing to check.
const SIGNING: Readonly<Partial<Record<DialectName, DialectSigning>>> = {
  standard: {
    fresh: (flags) => ({ secret: flags.secret ?? `whsec_${randomBytes(24).toString("base64")}` }),
    body: (s) => (s.secret === undefined ? {} : { secrets: [{ value: s.secret }] }),
    describe: (s) => s.secret && `secret ${s.secret}`,
    known: (s) => s.secret !== undefined,
  },
  rongcloud: {
    fresh: (flags, appId) => ({ secret: flags.secret ?? hexSecret(), appKey: flags.appKey ?? appId }),
    body: (s) => ({ rongcloud: { appKey: s.appKey, appSecret: s.secret } }),
    describe: (s) => `appKey ${s.appKey}, appSecret ${s.secret}`,
    known: (s) => s.secret !== undefined,
  },
  tencent: {
    fresh: (flags) => ({ secret: flags.secret ?? hexSecret(), sdkAppId: flags.sdkAppId ?? "1400000000" }),
    body: (s) => ({
      tencent: { sdkAppId: s.sdkAppId, ...(s.secret === undefined ? {} : { token: s.secret }) },
    }),
    describe: (s) => `SdkAppid ${s.sdkAppId}` + (s.secret === undefined ? "" : `, token ${s.secret}`),
    // Without a token Tencent still checks the SdkAppid.
    known: (s) => s.secret !== undefined || s.sdkAppId !== undefined,
  },
};

/** The signing material for a new endpoint: the given one, or a fresh secret where the dialect signs. */
export function signingFor(dialect: DialectName, flags: SigningFlags, appId: string): EndpointSigning {
  return SIGNING[dialect]?.fresh(flags, appId) ?? {};
}

/** The endpoint body's fields that carry the signing material. */
export function signingBody(dialect: DialectName, signing: EndpointSigning): Record<string, unknown> {
  return SIGNING[dialect]?.body(signing) ?? {};
}

/** "secret whsec_…", "appKey k, appSecret s": the signing material as a line says it. */
export function describeSigning(dialect: DialectName, signing: EndpointSigning): string | undefined {
  return SIGNING[dialect]?.describe(signing);
}

/** Whether `signing` is enough to check a signature of `dialect`. */
export function signingKnown(dialect: DialectName, signing: EndpointSigning | undefined): boolean {
  return signing !== undefined && (SIGNING[dialect]?.known(signing) ?? false);
}
