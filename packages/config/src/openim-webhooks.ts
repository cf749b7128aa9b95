import { readHookConfig } from "./hook-config.js";
import type { HookConfig } from "./hook-config.js";
import type { ConfigWarning } from "./errors.js";
import { OPENIM_HOOK_KEYS, openImHookKey } from "./openim-hooks.js";
import { child, expectRecord, parseAt, rootSite, unknownKeySite, warn } from "./site.js";
import type { Site } from "./site.js";
import { decodeYamlBytes, parseYaml } from "./yaml-source.js";

/** OpenIM's webhooks.yml: one base URL ("" when absent) and the hooks the file names. */
export interface OpenImWebhooks {
  url: string;
  hooks: Record<string, HookConfig>;
}

import { httpUrlSchema } from "@herald/dialects";

export { httpUrlSchema };

/**
 * Reads OpenIM's webhooks.yml as it is: YAML text or bytes (UTF-8, checked) or an already-parsed object. Unknown keys are warnings;
 * invalid values throw ConfigFileError naming the field (prefixed by `pathPrefix`).
 */
export function parseOpenImWebhooks(
  input: unknown,
  opts: { pathPrefix?: string; file?: string } = {},
): { webhooks: OpenImWebhooks; warnings: ConfigWarning[] } {
  const file = opts.file ?? "";
  const path = opts.pathPrefix === undefined || opts.pathPrefix === "" ? [] : opts.pathPrefix.split(".");
  let site: Site;
  let value = input;
  const text = input instanceof Uint8Array ? decodeYamlBytes(input, file) : input;
  if (typeof text === "string") {
    const source = parseYaml(text, file);
    value = source.value;
    site = rootSite({ file, path, lineOf: source.lineOf });
  } else {
    site = rootSite({ file, path });
  }
  return { webhooks: readWebhooks(site, value), warnings: site.warnings };
}

/** The webhooks mapping at `site`; the hooks come out in OpenIM's order whatever the file's order. */
export function readWebhooks(site: Site, raw: unknown): OpenImWebhooks {
  if (raw === null || raw === undefined) return { url: "", hooks: {} };
  const record = expectRecord(site, raw);
  let url = "";
  for (const key of Object.keys(record)) {
    if (key !== "url" && openImHookKey(key) === undefined) warn(unknownKeySite(site, key), "unknown key");
  }
  // OpenIM reads an empty url as "no URL", so do we.
  if (record["url"] !== undefined && record["url"] !== null && record["url"] !== "") {
    url = parseAt(child(site, "url"), httpUrlSchema, record["url"]);
  }
  const hooks: Record<string, HookConfig> = {};
  for (const { key } of OPENIM_HOOK_KEYS) {
    if (key in record) hooks[key] = readHookConfig(child(site, key), key, record[key]);
  }
  return { url, hooks };
}
