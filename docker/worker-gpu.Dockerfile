# The Cairn worker on an NVIDIA GPU: @tensorflow/tfjs-node-gpu 4.22 (libtensorflow 2.9,
# CUDA 11.2+ and cuDNN 8). Run with the NVIDIA container toolkit (`--gpus all`).
#   docker build -f docker/worker-gpu.Dockerfile -t cairn-worker-gpu .
FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04

ARG NODE_MAJOR=20
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg git tini build-essential python3 \
  && curl -fsSL https://deb.nodesource.com/setup_${NODE_MAJOR}.x | bash - \
  && apt-get install -y --no-install-recommends nodejs \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json nx.json ./
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
COPY examples ./examples
RUN npm ci --no-audit --no-fund
# Optional in the project (it downloads libtensorflow at install time): installed here only.
RUN npm install --no-save --no-audit --no-fund @tensorflow/tfjs-node-gpu@4.22.0

ENV CAIRN_HOME=/var/lib/cairn
ENV CAIRN_BLOBS=/var/lib/cairn/blobs
# The native TensorFlow backend, not the best-usable ladder: fail loudly if the GPU build is broken.
ENV CAIRN_BACKEND=tensorflow
VOLUME ["/var/lib/cairn"]
EXPOSE 9464

ENTRYPOINT ["tini", "--", "node", "apps/worker/bin/cairn-worker.js"]
CMD ["--tiers", "extended,nightly,weekly", "--metrics-port", "9464"]
