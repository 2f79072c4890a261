# The agent service's image (BERTH_AGENT_HOSTING=service, infra/agents.ts): `berth server` on the stage's
# DynamoDB table. SST builds it for linux/arm64 at deploy time. Also runs anywhere with BERTH_TABLE_NAME
# (DynamoDB), BERTH_DATABASE_URL (PostgreSQL) or a volume at BERTH_DATA_DIR (SQLite, one container).
# test/unit/dockerfile.test.ts checks its shape; test/e2e/container-entry.test.ts runs its CMD and ENV.

# Build: every dependency, the type check, and the build (dist/: esbuild does not check types).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: `prepare` would build before the sources are here, and nothing native is needed to
# type-check and bundle (esbuild runs from its platform package).
RUN npm ci --ignore-scripts
COPY . .
RUN npm run typecheck && npm run build

# Runtime: production dependencies only (the build script skips itself without esbuild), the built server,
# and no root.
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8787 BERTH_DATA_DIR=/home/node/.berth BERTH_LOG_LEVEL=info
WORKDIR /app
COPY package.json package-lock.json ./
# `prepare` runs scripts/build.mjs, which skips itself here (no esbuild without dev dependencies).
COPY scripts/build.mjs ./scripts/build.mjs
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8787
# For `docker run`; ECS ignores it (the ALB checks /healthz). The slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The table and the server secret come from SST's links (SST_RESOURCE_Table, SST_RESOURCE_ServerSecret),
# or BERTH_TABLE_NAME and AWS_REGION outside SST; see hosts/service-settings.ts.
CMD ["node", "bin/berth.mjs", "server"]
