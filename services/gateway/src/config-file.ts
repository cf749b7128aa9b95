import { watchFile, unwatchFile } from "node:fs";
import { applyConfigFile, loadConfigFile } from "@herald/config";
import type { Bus } from "@herald/bus";
import type { Logger } from "@herald/runtime";

/**
 * Applies Herald's YAML (with OpenIM's webhooks.yml in it or beside it) to the CONFIG bucket at
 * start, and again whenever the file changes. A file that fails validation stops the start; a
 * bad edit later is logged and the running config stays. An app the admin API changed stays as the API
 * left it (a warning names it) until handed back.
 */
export async function applyConfigFileAndWatch(opts: {
  file: string;
  bus: Bus;
  log: Logger;
  pollMs: number;
  /** Directories besides the file's own that its webhooksFile may name. */
  includeDirs: readonly string[];
}): Promise<{ close(): void }> {
  const log = opts.log.child({ component: "config-file", file: opts.file });
  const apply = async () => {
    const { apps, warnings } = await loadConfigFile(opts.file, { includeDirs: opts.includeDirs });
    for (const w of warnings) log.warn({ path: w.path }, `config: ${w.message}`);
    const result = await applyConfigFile(opts.bus, apps, log);
    for (const appId of result.keptByApi) {
      log.warn(
        { appId },
        `config: app ${appId} was changed through the admin API, so the file's version is not applied; ` +
          `POST /v1/apps/${appId}/return-to-file hands it back to the file`,
      );
    }
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
