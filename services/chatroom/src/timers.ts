import type { ChatroomTimers, ChatroomTimersOf } from "@herald/chatroom";
import type { AppConfig, ConfigView } from "@herald/config";

/**
 * Each app's chatroom timers as CONFIG holds them now: its `chatroom` block over the service's
 * environment defaults. Read at each fold and timer, so a change applies without a restart.
 */
export function chatroomTimersFrom(
  view: Pick<ConfigView, "app">,
  defaults: ChatroomTimers,
): ChatroomTimersOf {
  // One object per stored app version: folds of the same app share it until the app changes.
  const merged = new WeakMap<AppConfig, ChatroomTimers>();
  return (appId) => {
    const app = view.app(appId);
    if (app?.chatroom === undefined) return defaults;
    let timers = merged.get(app);
    if (timers === undefined) {
      timers = {
        kickAfterMs: app.chatroom.kickAfterMs ?? defaults.kickAfterMs,
        abnormalDelayMs: app.chatroom.abnormalDelayMs ?? defaults.abnormalDelayMs,
        idleDestroyMs: app.chatroom.idleDestroyMs ?? defaults.idleDestroyMs,
      };
      merged.set(app, timers);
    }
    return timers;
  };
}
