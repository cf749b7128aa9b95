export type IncomingHeaders = Record<string, string | string[] | undefined>;

/** Every value of a header, matched case-insensitively (Node lower-cases, Go canonicalises). */
export function headerValues(headers: IncomingHeaders, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    if (Array.isArray(value)) values.push(...value);
    else values.push(value);
  }
  return values;
}
