import type { AppConfig, ConfigView } from "@herald/config";
import { NotFoundError, RetryableError } from "@herald/runtime";

export interface KnownAppsOptions {
  config: ConfigView;
  /** HERALD_ACCEPT_UNKNOWN_APPS: take events and before-hooks for apps configured nowhere (a migration). */
  acceptUnknown: boolean;
}

/**
 * Apps are explicit: an event or a before-hook for an app configured nowhere is refused with
 * NOT_FOUND naming `app_id`, since a typo in an app id would otherwise turn moderation off unseen.
 * Known apps are answered from the watched view; only an app the view lacks costs a read of CONFIG,
 * so one created a moment ago through the admin API is accepted at once. No negative answer is kept.
 */
export function createKnownApps(opts: KnownAppsOptions) {
  const { config, acceptUnknown } = opts;

  /** The app, or undefined when it is configured nowhere and unknown apps are accepted. */
  async function app(appId: string, field: string, index?: number): Promise<AppConfig | undefined> {
    const known = config.app(appId);
    if (known !== undefined || acceptUnknown) return known;
    const stored = await config.appNow(appId).catch((err: unknown) => {
      // CONFIG out of reach (NATS down): a retry may succeed, unlike a NOT_FOUND.
      throw new RetryableError(`${field}: could not read CONFIG to find app ${JSON.stringify(appId)}`, {
        cause: err,
      });
    });
    if (stored !== undefined) return stored;
    throw new NotFoundError(
      `${field}: no app ${JSON.stringify(appId)} is configured (declare it in the Herald file or create it through the admin API)`,
      { resource: "app", id: appId, field, index },
    );
  }

  return {
    app,
    /** Throws NotFoundError naming `events[i].app_id` of the first event whose app is configured nowhere. */
    async checkBatch(events: readonly { appId: string }[]): Promise<void> {
      if (acceptUnknown) return;
      const checked = new Set<string>();
      for (const [index, event] of events.entries()) {
        if (checked.has(event.appId)) continue;
        checked.add(event.appId);
        await app(event.appId, `events[${index}].app_id`, index);
      }
    },
  };
}

export type KnownApps = ReturnType<typeof createKnownApps>;
