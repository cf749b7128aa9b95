import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from "./dialect.js";
import type { DialectDefinition, DisableRules } from "./dialect.js";
import { DIALECT_DEFINITIONS } from "./registry.js";

/** A duration as people write it: 1 s, 30 m, 6 h, 5 d (the largest unit that divides it). */
export function humanDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", DAY_MS],
    ["h", HOUR_MS],
    ["m", MINUTE_MS],
    ["s", SECOND_MS],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  }
  return `${ms} ms`;
}

function retries(d: DialectDefinition): string {
  const { scheduleMs, jitter } = d.defaults.retry;
  const schedule = scheduleMs.length === 0 ? "none" : scheduleMs.map(humanDuration).join(", ");
  return jitter > 0 ? `${schedule} ±${Math.round(jitter * 100)}%` : schedule;
}

function disabledWhen(rules: DisableRules, afterFailingMs: number): string {
  const when: string[] = [];
  if (rules.unreachable) when.push("unreachable or refused");
  if (rules.timeoutsInARow > 0) when.push(`${rules.timeoutsInARow} timeouts in a row`);
  if (rules.statuses.length > 0) {
    when.push(`HTTP ${rules.statuses.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(", ")}`);
  }
  if (afterFailingMs > 0) when.push(`${humanDuration(afterFailingMs)} failing with no success`);
  return when.length === 0 ? "never (retries run out: dead)" : when.join("; ");
}

const code = (items: readonly string[]) => items.map((i) => `\`${i}\``).join(", ");

/**
 * The README's dialect table, made from the registry: per dialect what is sent, which events by
 * default, how it is signed, retried, disabled and ordered. A test keeps the README's copy equal.
 */
export function dialectTable(dialects: readonly DialectDefinition[] = DIALECT_DEFINITIONS): string {
  const rows = dialects.map((d) => [
    `\`${d.name}\``,
    d.summary,
    code(d.defaults.eventTypes),
    d.signing,
    retries(d),
    disabledWhen(d.defaults.disableOn, d.defaults.disableAfterFailingMs),
    `\`${d.defaults.ordering}\``,
  ]);
  const head = [
    "dialect",
    "sends",
    "events by default",
    "signed",
    "retried after (default)",
    "disabled when (default)",
    "order",
  ];
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
