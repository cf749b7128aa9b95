import Fastify, { type FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { createLogger } from "@herald/runtime";
import { describe, expect, it } from "vitest";
import { principalOf, requireAccessDeclarations, RouteAccessError } from "./auth.js";
import type { AdminApp } from "./context.js";

function adminApp(): AdminApp {
  const app = Fastify({
    loggerInstance: createLogger({ service: "test", level: "silent" }),
  }).withTypeProvider<ZodTypeProvider>();
  requireAccessDeclarations(app);
  return app;
}

describe("route access declarations", () => {
  it("refuses at registration a route that does not say who may call it", () => {
    const app = adminApp();
    expect(() => app.get("/v1/forgotten", () => "open")).toThrow(RouteAccessError);
    expect(() => app.get("/v1/typo", { config: { access: "everyone" as "public" } }, () => "open")).toThrow(
      /declares no config.access/,
    );
  });

  it("refuses an app route without :appId and an authenticated route with one", () => {
    const app = adminApp();
    expect(() => app.get("/v1/things", { config: { access: "app" } }, () => "x")).toThrow(/no :appId/);
    expect(() => app.get("/v1/apps/:appId/x", { config: { access: "authenticated" } }, () => "x")).toThrow(
      /names an app/,
    );
  });

  it("accepts declared routes", async () => {
    const app = adminApp();
    app.get("/v1/apps/:appId/x", { config: { access: "app" } }, () => "x");
    app.get("/doc", { config: { access: "public" } }, () => "doc");
    await app.ready();
    expect((await app.inject({ url: "/doc" })).body).toBe("doc");
    await app.close();
  });

  it("throws rather than guess when a request has no recorded caller", async () => {
    const app = adminApp();
    let thrown: unknown;
    app.get("/doc", { config: { access: "public" } }, (request: FastifyRequest) => {
      try {
        principalOf(request);
      } catch (err) {
        thrown = err;
      }
      return "doc";
    });
    await app.inject({ url: "/doc" });
    expect(thrown).toBeInstanceOf(RouteAccessError);
    await app.close();
  });
});
