# Plugboard's container image. Its steps are those test/install.test.ts runs on every `npm test`:
# build, `npm pack`, then the packed tarball installed with production dependencies only and
# started with `plugboard serve`. The image itself was not built on the project's machines (they
# have no container runtime); see "Production install" in README.md.
#
#   docker build -t plugboard .
#   docker run -p 8080:8080 -v plugboard-data:/data plugboard
#
# Node.js 20, 22, 24, 25 and 26 are supported (package.json's engines): --build-arg NODE_VERSION=22.
ARG NODE_VERSION=20

# 1. Build: every dependency, the TypeScript compiled and bundled into dist/plugboard.cjs with
#    its code cache for this Node.js (the `prepare` step of npm ci), then packed.
FROM node:${NODE_VERSION}-bookworm-slim AS build
# better-sqlite3 compiles from source where its prebuilt binaries cannot be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund \
  && mkdir /pkg && npm pack --ignore-scripts --pack-destination /pkg

# 2. Install: the tarball with production dependencies only (better-sqlite3, pg, pino-pretty;
#    everything else is inside the bundle), in an empty folder.
FROM node:${NODE_VERSION}-bookworm-slim AS install
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# allowScripts: the one install script npm runs is better-sqlite3's build, as in our package.json.
RUN echo '{ "private": true, "allowScripts": { "better-sqlite3": true, "plugboard": false } }' > package.json
COPY --from=build /pkg/ /pkg/
RUN npm install --omit=dev --no-audit --no-fund /pkg/plugboard-*.tgz

# 3. Run: no compiler, no npm cache, a user without privileges, the database on a volume.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
  HOST=0.0.0.0 \
  PORT=8080 \
  DATABASE_URL=sqlite:/data/plugboard.db
COPY --from=install /app /app
# The official image's `node` user (uid 1000) owns the data folder and nothing else; the SQLite
# file, its WAL and the master key file beside it are created there, mode 0600.
RUN mkdir -m 0700 /data && chown node:node /data
USER node
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /healthz: 200 once the database takes writes. Node's fetch: the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The first start prints the first API key on stderr (docker logs), once; or set PLUGBOARD_API_KEY.
ENTRYPOINT ["/app/node_modules/.bin/plugboard"]
CMD ["serve"]
