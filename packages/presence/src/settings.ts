/** What presence folds by, per app: the app's `presence` block in CONFIG over the service's defaults. */
export interface PresenceSettings {
  /** Hold abnormal disconnects (DISCONNECT, TIMEOUT) of a user's last connection this long (0: off). */
  graceMs: number;
  /** A leased chat-core node is reset once silent for its lease plus this long. */
  nodeLeaseMarginMs: number;
}

/** The settings of an app, as they are now: read at each fold, so a change applies without a restart. */
export type PresenceSettingsOf = (appId: string) => PresenceSettings;

export const DEFAULT_PRESENCE_SETTINGS: PresenceSettings = Object.freeze({
  graceMs: 0,
  nodeLeaseMarginMs: 5_000,
});

/** The same settings for every app. */
export function fixedPresenceSettings(settings: Partial<PresenceSettings> = {}): PresenceSettingsOf {
  const fixed = { ...DEFAULT_PRESENCE_SETTINGS, ...settings };
  return () => fixed;
}
