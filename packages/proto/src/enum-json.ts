/** A ts-proto enum object: its names to numbers, numbers back to names, and UNRECOGNIZED (-1). */
export type ProtoEnum = Record<string, string | number>;

/** The enum's values by full name, without UNRECOGNIZED (ts-proto's stand-in for an unknown number). */
function values(protoEnum: ProtoEnum): Array<[name: string, value: number]> {
  return Object.entries(protoEnum).filter(
    (entry): entry is [string, number] => typeof entry[1] === "number" && entry[1] >= 0,
  );
}

/** What every name of the enum starts with: "OFFLINE_REASON_" for OFFLINE_REASON_LOGOUT, …_TIMEOUT. */
function prefixOf(protoEnum: ProtoEnum): string {
  const names = values(protoEnum).map(([name]) => name);
  const unspecified = names.find((name) => name.endsWith("_UNSPECIFIED"));
  return unspecified === undefined ? "" : unspecified.slice(0, -"UNSPECIFIED".length);
}

/**
 * An enum value as JSON gives it: its number, its full name (OFFLINE_REASON_LOGOUT), both as proto3's
 * JSON mapping has them, or its short name (LOGOUT), as Herald's documentation and admin API spell
 * them; names in any case. Undefined when it is none of these.
 */
export function enumFromJson(protoEnum: ProtoEnum, given: unknown): number | undefined {
  const known = values(protoEnum);
  if (typeof given === "number") return known.some(([, value]) => value === given) ? given : undefined;
  if (typeof given !== "string") return undefined;
  const text = /^[0-9]+$/.test(given) ? Number(given) : undefined;
  if (text !== undefined) return enumFromJson(protoEnum, text);
  const prefix = prefixOf(protoEnum);
  const name = given.toUpperCase();
  return known.find(([full]) => full === name || full === `${prefix}${name}`)?.[1];
}

/** The short names of an enum's values, for a message that says what is accepted: LOGOUT (1), … */
export function enumChoices(protoEnum: ProtoEnum): string {
  const prefix = prefixOf(protoEnum);
  return values(protoEnum)
    .map(([name, value]) => `${name.slice(prefix.length)} (${value})`)
    .join(", ");
}
