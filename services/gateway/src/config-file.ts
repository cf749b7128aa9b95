import { watchFile, unwatchFile } from "node:fs";
import { applyConfigFile, loadConfigFile } from "@herald/config";
import type { Bus } from "@herald/bus";
import type { Logger } from "@herald/runtime";

/**
 * Applies Herald's YAML (with OpenIM's webhooks.yml in it or beside it) to the CONFIG bucket at
 * start, and again whenever the file changes. A file that fails validation stops the start; a
 * bad edit later is logged and the running config stays.
 */
export async function applyConfigFileAndWatch(opts: {
  file: string;
  bus: Bus;
  log: Logger;
  pollMs: number;
}): Promise<{ close(): void }> {
  const log = opts.log.child({ component: "config-file", file: opts.file });
  const apply = async () => {
    const { apps, warnings } = await loadConfigFile(opts.file);
    for (const w of warnings) log.warn({ path: w.path }, `config: ${w.message}`);
    const result = await applyConfigFile(opts.bus, apps, log);
    log.info(result, "config file applied");
  };
  await apply();
  let applying = Promise.resolve();
  const onChange = () => {
    applying = applying.then(apply).catch((err: unknown) => log.error({ err }, "config file not applied"));
  };
  watchFile(opts.file, { interval: opts.pollMs }, onChange);
  return { close: () => unwatchFile(opts.file, onChange) };
}
