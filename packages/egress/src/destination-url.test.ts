import { describe, expect, it } from "vitest";
import { ValidationError } from "@herald/runtime";
import type { EgressPolicy } from "./address-policy.js";
import { checkDestinationUrl } from "./destination-url.js";
import { DestinationRefusedError } from "./errors.js";

const PUBLIC_ONLY: EgressPolicy = { allowLoopback: false, allowPrivate: false };
const LOCAL_DEV: EgressPolicy = { allowLoopback: true, allowPrivate: false };

describe("checkDestinationUrl", () => {
  it("accepts only http and https", async () => {
    for (const url of ["ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1/", "not a url"]) {
      await expect(checkDestinationUrl(url, LOCAL_DEV)).rejects.toBeInstanceOf(ValidationError);
    }
  });

  it("refuses user info in the URL", async () => {
    await expect(checkDestinationUrl("http://user:secret@127.0.0.1/", LOCAL_DEV)).rejects.toThrow(
      /user info/,
    );
    await expect(checkDestinationUrl("http://user@127.0.0.1/", LOCAL_DEV)).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it("refuses a host that does not resolve", async () => {
    await expect(checkDestinationUrl("http://no-such-host.invalid/hook", PUBLIC_ONLY)).rejects.toThrow(
      /does not resolve/,
    );
  });

  it("refuses loopback unless the policy allows it", async () => {
    for (const url of [
      "http://127.0.0.1:8080/",
      "http://localhost/",
      "http://[::1]/",
      "http://[::ffff:127.0.0.1]/",
    ]) {
      const err: unknown = await checkDestinationUrl(url, PUBLIC_ONLY).catch((e: unknown) => e);
      expect(err, url).toBeInstanceOf(DestinationRefusedError);
      expect((err as DestinationRefusedError).message).toContain("loopback");
      await expect(checkDestinationUrl(url, LOCAL_DEV)).resolves.toBeUndefined();
    }
  });

  it("refuses the cloud metadata address", async () => {
    await expect(checkDestinationUrl("http://169.254.169.254/latest/", LOCAL_DEV)).rejects.toThrow(
      /linkLocal/,
    );
  });
});
