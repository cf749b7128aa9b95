/** A JSON object as parsed from, or about to be serialised to, a wire body. */
export type JsonObject = { [key: string]: unknown };

/** One HTTP request, fully rendered: the caller sends these bytes as they are. */
export interface HttpRequestSpec {
  readonly method: "POST";
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
