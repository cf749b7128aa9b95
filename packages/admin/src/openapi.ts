import fastifySwagger from "@fastify/swagger";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import type { AdminApp } from "./context.js";

/**
 * The OpenAPI 3 document, generated from the routes' zod schemas. Registered before the routes (so it
 * sees them) and served at /openapi.json.
 */
export async function registerOpenApi(app: AdminApp): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Herald admin API",
        description:
          "Apps, endpoints, hook settings, delivery logs and replays. Every /v1 route takes " +
          "`Authorization: Bearer <token>`: the admin token, or an app key (hak_…) limited to its app.",
        version: "1",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  app.get("/openapi.json", { config: { access: "public" }, schema: { hide: true } }, (_request, reply) =>
    reply.send(app.swagger()),
  );
}
