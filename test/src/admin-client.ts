import { expect } from "vitest";

/** An admin API answer: the status, the body parsed when it is JSON, the text as sent. */
export interface AdminAnswer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- read by path; assertions check the shape
  text: string;
  headers: Headers;
}

export interface AdminCallOptions {
  /** Another token; null sends none. */
  token?: string | null;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as text/yaml. */
  yaml?: string | Buffer;
  /** Another gateway's admin URL. */
  base?: string;
}

/** A caller of one gateway's admin API with a default token, as a business's operator script would be. */
export function adminCaller(baseUrl: () => string, defaultToken: string) {
  return async (method: string, route: string, opts: AdminCallOptions = {}): Promise<AdminAnswer> => {
    const headers: Record<string, string> = {};
    const token = opts.token === undefined ? defaultToken : opts.token;
    if (token !== null) headers["authorization"] = `Bearer ${token}`;
    let body: string | Buffer | undefined;
    if (opts.yaml !== undefined) {
      headers["content-type"] = "text/yaml";
      body = opts.yaml;
    } else if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(`${opts.base ?? baseUrl()}${route}`, { method, headers, body });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, body: json, text, headers: res.headers };
  };
}

/** Asserts a 4xx with the one error body, naming `field`. */
export function expectAdminError(res: AdminAnswer, status: number, field?: string): void {
  expect(res.status, res.text).toBe(status);
  expect(typeof res.body?.error?.message, res.text).toBe("string"); // eslint-disable-line @typescript-eslint/no-unsafe-member-access
  if (field !== undefined) expect(res.body.error.field, res.text).toBe(field); // eslint-disable-line @typescript-eslint/no-unsafe-member-access
}
