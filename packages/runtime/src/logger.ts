import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * JSON lines with `service`, an ISO `time`, a level label and pino's `err` serializer.
 * The default destination is stdout written synchronously, so nothing is lost when the
 * process exits right after a log call.
 */
export function createLogger(opts: {
  service: string;
  level?: string;
  destination?: pino.DestinationStream;
}): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { service: opts.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** Waits until buffered lines reach the destination; a no-op for synchronous ones. */
export function flushLogger(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    log.flush(() => resolve());
  });
}
