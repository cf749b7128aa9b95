# syntax=docker/dockerfile:1
# One image for all six Herald services (gateway, evaluator, presence, chatroom, deliverer,
# logstore). The container runs one of them:
#   docker run -e SERVICE=gateway herald:0.1.0
# or, as the Kubernetes manifests in deploy/ do, with explicit args:
#   args: ["node", "services/gateway/dist/main.js"]
# Build: docker build -t herald:0.1.0 .
#
# Why one image: the six services share every package and most dependencies, so one image is
# one build, one scan and one tag to roll out, and every pod of a release runs the same bytes.
# The cost is a few megabytes each service does not use.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: install everything, compile, then keep only what runs ----------------------------
FROM ${NODE_IMAGE} AS build
ENV CI=true
# corepack's pnpm shim does not work in this setup; this is package.json's packageManager.
RUN npm install --global pnpm@10.34.8
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=herald-pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile
# The services and the workspace packages they import (tsc -b follows the references).
RUN pnpm exec tsc -b services/gateway services/evaluator services/presence services/chatroom \
      services/deliverer services/logstore
# Production dependencies only, in the workspace's own layout, so that the paths the code
# resolves from its own location keep working: packages/admin/panel (the admin
# panel's files), packages/db/migrations (run by the log store at start) and
# packages/proto/descriptors (what gRPC server reflection describes). The test-only
# projects leave the workspace first, or their dependencies (testcontainers, embedded
# Postgres) would be installed as theirs.
RUN --mount=type=cache,id=herald-pnpm-store,target=/root/.local/share/pnpm/store \
    rm -rf node_modules packages/*/node_modules services/*/node_modules packages/testkit test bench \
    && pnpm install --prod --frozen-lockfile --offline \
    && mkdir -p /out/packages /out/services \
    && cp -a package.json pnpm-workspace.yaml node_modules /out/ \
    && for dir in packages/* services/*; do \
         mkdir -p "/out/$dir" \
         && cp -a "$dir/package.json" "/out/$dir/" \
         && for part in dist node_modules; do \
              if [ -e "$dir/$part" ]; then cp -a "$dir/$part" "/out/$dir/"; fi; \
            done; \
       done \
    && cp -a packages/db/migrations /out/packages/db/ \
    && cp -a packages/proto/descriptors /out/packages/proto/ \
    && cp -a packages/admin/panel /out/packages/admin/ \
    && find /out -name '*.tsbuildinfo' -delete

# --- runtime: node, tini and the compiled services; nothing else -----------------------------
FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM to node (which drains within SHUTDOWN_DEADLINE_MS) and
# reaps zombies. Node as PID 1 would get no default signal handling from the kernel.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 herald \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
         --shell /usr/sbin/nologin herald
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and not writable by the service user: the root filesystem can be read-only.
COPY --from=build /out/ /app/
USER 10001:10001
# http (health, metrics) 8080; gateway gRPC 50051 and admin 8088; logstore gRPC 50052.
EXPOSE 8080 8088 50051 50052
ENTRYPOINT ["/usr/bin/tini", "--"]
# `exec` replaces the shell, so node is tini's child and receives the signals itself.
CMD ["/bin/sh", "-c", "exec node \"services/${SERVICE:?set SERVICE to gateway, evaluator, presence, chatroom, deliverer or logstore}/dist/main.js\""]
