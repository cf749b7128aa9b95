/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument -- the admin API's JSON answers are read by path; the assertions check their shape. */
// An event's story (issue 17): the id the chat core published finds, through the admin API, the events
// Herald derived from it and every attempt to deliver each, with real processes end to end.
import { beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@herald/testkit";
import { onlineEvent, publish } from "./grpc-client.js";
import { configureApp, loggedDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";

const ADMIN_TOKEN = "event-story-admin-token-0123456789";
const APP_ID = "story";
const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;

interface AttemptJson {
  attempt: number;
  outcome: string;
  statusCode: number;
}
interface StoryJson {
  event: { id: string } | null;
  attempts: AttemptJson[];
  derived: Array<{ event: { id: string }; attempts: AttemptJson[] }>;
}

const fixture = loggedDeliveryStack({ adminToken: ADMIN_TOKEN, also: ["presence"] });
const { admin, businessServer } = fixture;
let stack: DeliveryStack;

beforeAll(() => {
  stack = fixture.stack;
});

describe("an event's story", () => {
  it("shows a published conn.online with the user.online derived from it and that event's attempts", async () => {
    const server = await businessServer();
    // The first attempt fails, the retry is delivered: the story shows both.
    server.reply({ status: 503, body: "busy" });
    await configureApp(stack, {
      appId: APP_ID,
      endpoints: [
        {
          id: "biz",
          url: `${server.url}/hook`,
          dialect: "standard",
          secrets: [{ value: SECRET }],
          eventTypes: ["user.online"],
          retry: { scheduleMs: [50], jitter: 0 },
        },
      ],
    });
    const online = onlineEvent(APP_ID);
    await publish(stack.client, [online]);

    let story: StoryJson | undefined;
    await waitFor(
      async () => {
        const res = await admin("GET", `/v1/apps/${APP_ID}/events/${online.id}`);
        story = res.status === 200 ? (res.body as StoryJson) : undefined;
        return story?.derived[0]?.attempts.length === 2;
      },
      { timeoutMs: 30_000, what: "the user.online and both its attempts in the story" },
    );
    if (story === undefined) throw new Error("no story");
    expect(story.event).toMatchObject({ id: online.id, type: "conn.online" });
    // The chat core's event has no callback of its own here: the endpoint takes user.online.
    expect(story.attempts).toEqual([]);
    expect(story.derived).toHaveLength(1);
    const derived = story.derived[0]!;
    expect(derived.event).toMatchObject({
      type: "user.online",
      userOnline: {
        userId: (online.payload as { value: { userId: string } }).value.userId,
        causeEventId: online.id,
      },
    });
    expect(derived.attempts.map((a) => [a.attempt, a.outcome, a.statusCode])).toEqual([
      [2, "delivered", 200],
      [1, "retry", 503],
    ]);
    expect(derived.attempts[0]).toMatchObject({ eventId: derived.event.id, endpointId: "biz" });
    expect(server.requests.map((r) => r.headers["webhook-id"])).toHaveLength(2);
  }, 60_000);

  it("answers 404 for an event nowhere on record", async () => {
    const res = await admin("GET", `/v1/apps/${APP_ID}/events/never-published`);
    expect(res.status, res.text).toBe(404);
    expect(res.body.error.field).toBe("eventId");
  });

  it("documents the story's shape in the OpenAPI document", async () => {
    const res = await admin("GET", "/openapi.json", { token: null });
    const route = res.body.paths["/v1/apps/{appId}/events/{eventId}"].get;
    const schema = route.responses["200"].content["application/json"].schema;
    expect(Object.keys(schema.properties)).toEqual(["event", "attempts", "derived"]);
    expect(Object.keys(schema.properties.derived.items.properties)).toEqual(["event", "attempts"]);
  });
});
