import { describe, expect, it } from "vitest";
import { busNames } from "./names.js";
import { JOB_HEADERS, jobHeaders, readJob } from "./delivery-job.js";
import type { Job } from "./delivery-job.js";

const job: Omit<Job, "appId" | "endpointId" | "event"> = {
  deliveryId: "e1:ep",
  eventId: "e1",
  eventType: "user.online",
  attemptsMade: 2,
  notBefore: 1_700_000_000_000,
  trigger: "event",
  key: "user:用户😀 a%b",
  order: 42,
};

const read = (subject: string) => readJob({ subject, headers: jobHeaders(job), data: new Uint8Array([1]) });

describe("delivery jobs", () => {
  it("read back what was written, the key's Unicode and percent signs included", () => {
    const subject = busNames().subjects.job(3, "app", "ep");
    expect(read(subject)).toEqual({ ...job, appId: "app", endpointId: "ep", event: new Uint8Array([1]) });
    expect(jobHeaders(job)[JOB_HEADERS.key]).not.toMatch(/[^\x20-\x7e]/);
  });

  it("take the app and endpoint from the subject, whatever the namespace or the ids", () => {
    for (const namespace of ["", "dl", "job", "herald"]) {
      const names = busNames(namespace);
      expect(read(names.subjects.job(7, "job", "dl"))).toMatchObject({ appId: "job", endpointId: "dl" });
      const legacy = names.subjects.legacyJobs().replace(/>$/, "dl.job");
      expect(read(legacy)).toMatchObject({ appId: "dl", endpointId: "job" });
      expect(read(`${legacy}.retry`)).toMatchObject({ appId: "dl", endpointId: "job" });
    }
  });

  it("refuse what is not a job", () => {
    expect(read("herald.ev.conn.0.app.conn.online")).toBeUndefined();
    expect(read("herald.job.1.app")).toBeUndefined();
    expect(readJob({ subject: "herald.job.1.app.ep", headers: {}, data: new Uint8Array() })).toBeUndefined();
  });
});
