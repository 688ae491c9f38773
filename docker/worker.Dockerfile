# The Cairn worker on CPU: takes training jobs from the tier queues in Redis and runs them
# with the native CPU core (native-cpu), else tfjs. Build from the repository root:
#   docker build -f docker/worker.Dockerfile -t cairn-worker .
FROM node:20-bookworm-slim

WORKDIR /app
# git: the worker records the lock file and environment of what it runs; tini: signals;
# g++, make, python3: npm ci builds the native training core (native-cpu) against node's own headers.
RUN apt-get update && apt-get install -y --no-install-recommends git tini g++ make python3 && rm -rf /var/lib/apt/lists/*

# Workspace manifests first, so dependency layers are reused when only sources change.
COPY package.json package-lock.json tsconfig.base.json nx.json ./
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
COPY examples ./examples
RUN npm ci --no-audit --no-fund

ENV CAIRN_HOME=/var/lib/cairn
ENV CAIRN_BLOBS=/var/lib/cairn/blobs
VOLUME ["/var/lib/cairn"]
# Prometheus metrics (cairn-worker --metrics-port).
EXPOSE 9464

# SIGTERM reaches the worker: running jobs checkpoint and go back to the queue.
ENTRYPOINT ["tini", "--", "node", "apps/worker/bin/cairn-worker.js"]
CMD ["--tiers", "ci,extended,nightly,weekly", "--metrics-port", "9464"]
