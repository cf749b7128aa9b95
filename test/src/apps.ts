import { pino } from "pino";
import { connectBus } from "@herald/bus";
import { putApp, validateAppConfig } from "@herald/config";

/**
 * Creates apps with no hooks and no endpoints in a running Herald's CONFIG (after its gateway is
 * ready, which made the bucket), as an operator would through the admin API: the gateway takes
 * events and before-hooks only for configured apps. It answers for them at once (no wait for its view).
 */
export async function configureApps(
  env: { NATS_URL: string; HERALD_NAMESPACE?: string },
  appIds: readonly string[],
): Promise<void> {
  const bus = await connectBus({
    servers: env.NATS_URL,
    name: "test-apps",
    namespace: env.HERALD_NAMESPACE,
    log: pino({ level: "silent" }),
  });
  try {
    for (const appId of appIds) await putApp(bus, validateAppConfig({ appId }));
  } finally {
    await bus.drain();
  }
}
