# `cairn serve` for one model alias: POST /predict, /health, /metadata, /metrics.
#   docker build -f docker/serve.Dockerfile -t cairn-serve .
#   docker run -e DATABASE_URL=... -v blobs:/var/lib/cairn/blobs cairn-serve iris-mlp@production
FROM node:20-bookworm-slim

WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.base.json nx.json ./
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
COPY examples ./examples
RUN npm ci --no-audit --no-fund

ENV CAIRN_HOME=/var/lib/cairn
ENV CAIRN_BLOBS=/var/lib/cairn/blobs
VOLUME ["/var/lib/cairn"]
EXPOSE 8080

ENTRYPOINT ["tini", "--", "node", "apps/cli/bin/cairn.js", "serve", "--host", "0.0.0.0", "--port", "8080"]
CMD ["iris-mlp@production"]
