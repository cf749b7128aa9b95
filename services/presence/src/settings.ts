import type { AppConfig, ConfigView } from "@herald/config";
import type { PresenceSettings, PresenceSettingsOf } from "@herald/presence";

/**
 * Each app's presence settings as CONFIG holds them now: its `presence` block over the service's
 * environment defaults. Read at each fold, so a change applies without a restart.
 */
export function presenceSettingsFrom(
  view: Pick<ConfigView, "app">,
  defaults: PresenceSettings,
): PresenceSettingsOf {
  // One object per stored app version: folds of the same app share it until the app changes.
  const merged = new WeakMap<AppConfig, PresenceSettings>();
  return (appId) => {
    const app = view.app(appId);
    if (app?.presence === undefined) return defaults;
    let settings = merged.get(app);
    if (settings === undefined) {
      settings = {
        graceMs: app.presence.graceMs ?? defaults.graceMs,
        nodeLeaseMarginMs: app.presence.nodeLeaseMarginMs ?? defaults.nodeLeaseMarginMs,
      };
      merged.set(app, settings);
    }
    return settings;
  };
}
