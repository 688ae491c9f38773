# The Cairn portal: the Next.js web app and its tRPC API, started by `cairn ui` on the
# store and queues its environment names. Build from the repository root:
#   docker build -f docker/portal.Dockerfile -t cairn-portal .
FROM node:20-bookworm-slim

WORKDIR /app
# tini: signals reach `cairn ui`, which stops the Next.js server it started.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*

COPY package.json package-lock.json tsconfig.base.json nx.json ./
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
COPY examples ./examples
RUN npm ci --no-audit --no-fund
# The production build, made once here so the container starts in about a second
# (`cairn ui` rebuilds only when the sources are newer than the build).
RUN cd apps/web && NEXT_TELEMETRY_DISABLED=1 npx next build

EXPOSE 3000
ENTRYPOINT ["tini", "--", "node", "apps/cli/bin/cairn.js", "ui"]
CMD ["--host", "0.0.0.0", "--port", "3000"]
