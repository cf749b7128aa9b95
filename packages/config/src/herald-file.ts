import { realpath } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { BEFORE_DIALECTS, hookProviderSchema } from "@herald/dialects";
import type { HookProvider } from "@herald/dialects";
import { z } from "zod";
import { ID_PATTERN_TEXT } from "./schemas.js";
import { APP_ID_PATTERN, commandNamesSchema, readBreaker, urlStyleSchema } from "./app-config.js";
import { readAppSettings } from "./app-settings.js";
import type { AppConfig } from "./app-config.js";
import { readFileEndpoints } from "./endpoint-file.js";
import { ConfigFileError } from "./errors.js";
import type { ConfigWarning } from "./errors.js";
import { httpUrlSchema, readWebhooks } from "./openim-webhooks.js";
import type { OpenImWebhooks } from "./openim-webhooks.js";
import { openImHookKey } from "./openim-hooks.js";
import { asRecord, child, expectRecord, fail, parseAt, rootSite, warn, warnUnknownKeys } from "./site.js";
import type { Site } from "./site.js";
import { parseYaml, readYamlFile } from "./yaml-source.js";

/** The app id a plain OpenIM webhooks.yml (no `apps:`) is loaded as. */
export const PLAIN_WEBHOOKS_APP_ID = "default";

type ReadText = (path: string) => Promise<string>;
type OpenImConfig = NonNullable<AppConfig["openim"]>;

/** Where a config file may read the files it references (`webhooksFile`), and how. */
interface Includes {
  /** The config file's own directory, then the extra directories allowed. */
  readonly dirs: readonly string[];
  readonly readText: ReadText;
  /** Resolves symlinks and `..` (identity for a reader that is no file system). */
  readonly realpath: (path: string) => Promise<string>;
}

export interface ConfigFileOptions {
  /** Directories besides the config file's own whose files it may reference (e.g. a second mount). */
  includeDirs?: readonly string[];
}

export interface LoadedConfig {
  apps: AppConfig[];
  warnings: ConfigWarning[];
}

/** Reads Herald's YAML file, or a plain OpenIM webhooks.yml as app "default". */
export async function loadConfigFile(file: string, opts: ConfigFileOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readYamlFile(file);
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    return fail(rootSite({ file }), `cannot read the file: ${(err as Error).message}`, err);
  }
  return parseHeraldConfig(text, { file, ...opts });
}

/**
 * Parses Herald's YAML text. `webhooksFile`s are read relative to `file`, only from its directory or
 * `includeDirs` (symlinks resolved); `readFile` replaces the disk (then paths are only checked as text).
 */
export async function parseHeraldConfig(
  text: string,
  opts: { file: string; readFile?: ReadText } & ConfigFileOptions,
): Promise<LoadedConfig> {
  const source = parseYaml(text, opts.file);
  const site = rootSite({ file: opts.file, lineOf: source.lineOf });
  const includes: Includes = {
    dirs: [dirname(resolve(opts.file)), ...(opts.includeDirs ?? []).map((dir) => resolve(dir))],
    readText: opts.readFile ?? readYamlFile,
    realpath: opts.readFile === undefined ? realpath : (path) => Promise.resolve(path),
  };
  const top = asRecord(source.value);
  if (top === undefined) return fail(site, "expected a mapping with `apps:` or an OpenIM webhooks.yml");
  if (!("apps" in top) && isPlainWebhooks(top)) {
    const webhooks = readWebhooks(site, top);
    const app: AppConfig = {
      appId: PLAIN_WEBHOOKS_APP_ID,
      openim: toOpenIm(site, { url: undefined }, webhooks),
      endpoints: [],
      allowPrivateDestinations: false,
      breaker: readBreaker(site, undefined),
      source: "file",
    };
    return { apps: [app], warnings: site.warnings };
  }
  warnUnknownKeys(site, top, ["apps"]);
  const appsSite = child(site, "apps");
  const apps: AppConfig[] = [];
  if (top["apps"] !== null && top["apps"] !== undefined) {
    for (const [appId, raw] of Object.entries(expectRecord(appsSite, top["apps"]))) {
      apps.push(await readApp(child(appsSite, appId), appId, raw, opts.file, includes));
    }
  }
  return { apps, warnings: site.warnings };
}

function isPlainWebhooks(top: Record<string, unknown>): boolean {
  return Object.keys(top).some((key) => key === "url" || openImHookKey(key) !== undefined);
}

const openImScalarsSchema = z.object({
  url: httpUrlSchema.optional(),
  urlStyle: urlStyleSchema.optional(),
  commandNames: commandNamesSchema.optional(),
  webhooksFile: z
    .string({ error: "expected a file path" })
    .min(1, { error: "expected a file path" })
    .optional(),
  provider: hookProviderSchema.optional(),
});

async function readApp(
  site: Site,
  appId: string,
  raw: unknown,
  file: string,
  includes: Includes,
): Promise<AppConfig> {
  if (!APP_ID_PATTERN.test(appId)) fail(site, `app id must be ${ID_PATTERN_TEXT}`);
  const app = expectRecord(site, raw);
  warnUnknownKeys(site, app, [
    "openim",
    ...OTHER_BEFORE_KEYS,
    "endpoints",
    "allowPrivateDestinations",
    "breaker",
    "presence",
    "chatroom",
  ]);
  const openimSite = child(site, "openim");
  const openim =
    app["openim"] === undefined || app["openim"] === null
      ? undefined
      : await readOpenIm(openimSite, app["openim"], file, includes);
  const others = readOtherBeforeBlocks(site, app);
  const endpoints = readFileEndpoints(child(site, "endpoints"), app["endpoints"], openim);
  // An app with none would do nothing; most likely its openim: was forgotten.
  if (openim === undefined && Object.keys(others).length === 0 && endpoints.length === 0) {
    fail(openimSite, `required (or ${[...OTHER_BEFORE_KEYS, "endpoints"].join(", ")})`);
  }
  const allowPrivateDestinations = parseAt(
    child(site, "allowPrivateDestinations"),
    z.boolean({ error: "expected true or false" }).nullish(),
    app["allowPrivateDestinations"],
  );
  return {
    appId,
    ...(openim === undefined ? {} : { openim }),
    ...others,
    endpoints,
    allowPrivateDestinations: allowPrivateDestinations ?? false,
    breaker: readBreaker(child(site, "breaker"), app["breaker"]),
    ...readAppSettings(site, app),
    source: "file",
  };
}

// Before-dialects whose app block is read by its own schema, the same in a file as in the admin API.
const OTHER_BEFORE = BEFORE_DIALECTS.filter((d) => d.appSchema !== undefined);
const OTHER_BEFORE_KEYS = OTHER_BEFORE.map((d) => d.appKey);

function readOtherBeforeBlocks(site: Site, app: Record<string, unknown>): Record<string, unknown> {
  const blocks: Record<string, unknown> = {};
  for (const d of OTHER_BEFORE) {
    const raw = app[d.appKey];
    if (raw === undefined || raw === null || d.appSchema === undefined) continue;
    blocks[d.appKey] = parseAt(child(site, d.appKey), d.appSchema, raw);
  }
  return blocks;
}

async function readOpenIm(
  openimSite: Site,
  raw: unknown,
  file: string,
  includes: Includes,
): Promise<OpenImConfig> {
  const openim = expectRecord(openimSite, raw);
  warnUnknownKeys(openimSite, openim, [
    "url",
    "urlStyle",
    "commandNames",
    "webhooks",
    "webhooksFile",
    "provider",
  ]);
  const scalars = parseAt(openimSite, openImScalarsSchema, openim);
  const webhooksSite = child(openimSite, "webhooks");
  let webhooks: OpenImWebhooks;
  if (scalars.webhooksFile !== undefined) {
    if (openim["webhooks"] !== undefined)
      fail(child(openimSite, "webhooksFile"), "give webhooks or webhooksFile, not both");
    webhooks = await readWebhooksFile(
      child(openimSite, "webhooksFile"),
      webhooksSite,
      resolve(dirname(file), scalars.webhooksFile),
      includes,
    );
  } else {
    webhooks = readWebhooks(webhooksSite, openim["webhooks"]);
  }
  return toOpenIm(openimSite, scalars, webhooks);
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && rel.split(sep)[0] !== ".." && !isAbsolute(rel);
}

/**
 * The real path of a referenced file, if it lies under one of the allowed directories once symlinks and
 * `..` are resolved: a config file cannot make Herald read (and report on) any file it can open.
 */
async function includedPath(referenceSite: Site, path: string, includes: Includes): Promise<string> {
  let real: string;
  try {
    real = await includes.realpath(path);
  } catch (err) {
    return fail(referenceSite, `cannot read ${path}: ${(err as Error).message}`, err);
  }
  const dirs = await Promise.all(includes.dirs.map((dir) => includes.realpath(dir).catch(() => undefined)));
  if (!dirs.some((dir) => dir !== undefined && isInside(dir, real))) {
    fail(
      referenceSite,
      `${path} is outside the directories a config file may read (${includes.dirs.join(", ")}): refused`,
    );
  }
  return real;
}

// The file stands in for `webhooks:`, so its fields keep the logical path apps.<id>.openim.webhooks.*.
async function readWebhooksFile(
  referenceSite: Site,
  webhooksSite: Site,
  path: string,
  includes: Includes,
): Promise<OpenImWebhooks> {
  const real = await includedPath(referenceSite, path, includes);
  let text: string;
  try {
    text = await includes.readText(real);
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    return fail(referenceSite, `cannot read ${path}: ${(err as Error).message}`, err);
  }
  const source = parseYaml(text, path);
  const fileWarnings: Site["warnings"] = [];
  const site = rootSite({
    file: path,
    path: webhooksSite.path,
    lineOf: source.lineOf,
    warnings: fileWarnings,
    referenced: true,
  });
  const webhooks = readWebhooks(site, source.value);
  for (const warning of fileWarnings) {
    webhooksSite.warnings.push({ path: warning.path, message: `${warning.message} (in ${path})` });
  }
  return webhooks;
}

// `site` is the openim mapping of an app, or the root of a plain webhooks.yml.
function toOpenIm(
  site: Site,
  scalars: {
    url?: string | undefined;
    urlStyle?: "path" | "query";
    commandNames?: "seed" | "current";
    provider?: HookProvider | undefined;
  },
  webhooks: OpenImWebhooks,
): OpenImConfig {
  const plain = site.path.length === 0;
  const webhooksUrlSite = plain ? child(site, "url") : child(site, "webhooks", "url");
  if (scalars.url !== undefined && webhooks.url !== "" && webhooks.url !== scalars.url) {
    warn(webhooksUrlSite, "ignored: openim.url is used");
  }
  const url = scalars.url ?? webhooks.url;
  if (url === "") {
    fail(plain ? webhooksUrlSite : child(site, "url"), "required (openim.url, or url in the webhooks)");
  }
  return {
    url,
    urlStyle: scalars.urlStyle ?? "path",
    commandNames: scalars.commandNames ?? "seed",
    hooks: webhooks.hooks,
    ...(scalars.provider === undefined ? {} : { provider: scalars.provider }),
  };
}
