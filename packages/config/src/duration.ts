import { parseDuration } from "@herald/runtime";
import { fail } from "./site.js";
import type { Site } from "./site.js";

/**
 * A YAML duration as milliseconds: "500ms", "5s", "5m", "2h", "1d", or a number (already milliseconds,
 * left for the schema to check). Only files take text; stored configs hold integers.
 */
export function readDuration(site: Site, value: unknown): unknown {
  if (typeof value !== "string") return value;
  const parsed = parseDuration(value);
  return "error" in parsed ? fail(site, parsed.error) : parsed.ms;
}
