# syntax=docker/dockerfile:1
# ShieldX Orchestrator image (the gateway only; the admin UI has its own image, apps/admin-ui/Dockerfile): build with
# the dev dependencies, run with the gateway's runtime ones only (no Next.js, React or uPlot), as a non-root user.
#   docker build -t shieldx-orchestrator .
#   docker run --init -p 8443:8443 -p 9090:9090 -e ORCH_TLS_CERT_FILE=… shieldx-orchestrator
# See deploy/k8s/, deploy/helm/shieldx/, docker-compose.yaml and docs/deployment.md.

ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages ./packages
RUN npm ci --no-audit --no-fund
COPY . .
# The same compilation as `nx run orchestrator:build` (SWC, about a second), without needing the Nx daemon.
RUN npx swc apps/orchestrator/src libs \
      --config-file apps/orchestrator/.swcrc -d dist/orchestrator --quiet \
 && node -e "require('fs').writeFileSync('dist/orchestrator/package.json', JSON.stringify({type:'module'}))" \
 && node packages/cli/build.mjs

# The gateway's runtime dependencies: production ones, less those only the admin UI uses.
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages ./packages
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm uninstall --omit=dev --no-audit --no-fund next react react-dom uplot \
 && test ! -e node_modules/next

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    ORCH_PORT=8443 \
    ORCH_OPS_PORT=9090 \
    ORCH_LEDGER_PATH=/app/data/ledger-orchestrator.jsonl
# The gateway's V8 flags and glibc malloc settings, as npm start and shieldx serve set them
# (scripts/gateway-process.mjs, docs/performance.md).
ENV NODE_OPTIONS=--max-semi-space-size=4 \
    MALLOC_ARENA_MAX=1 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
COPY --from=deps /src/package.json ./package.json
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist/orchestrator ./dist/orchestrator
COPY --from=build /src/policies ./policies
# The operator CLI, for `npx shieldx ledger verify /app/data/…` inside the container.
COPY --from=build /src/dist/cli ./dist/cli
COPY --from=build /src/scripts ./scripts
COPY --from=build /src/packages ./packages
# The ledger directory is the only place the process writes (mount a volume there to keep the audit ledger).
RUN mkdir -p /app/data && chown 1000:1000 /app/data
# uid/gid 1000 is the image's `node` user; numeric, so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8443 9090
# Liveness over the plain-HTTP ops listener (the main listener requires client certificates).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ORCH_OPS_PORT||9090)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/orchestrator/apps/orchestrator/src/main.js"]
