/**
 * The Cairn portal. The server side pulls in the store (PGlite, pg), the queues
 * (BullMQ, ioredis) and, through @cairn/pipeline, the training engine (tfjs) and
 * esbuild: those stay plain Node `require`s instead of being bundled. The @cairn/*
 * workspace libs export TypeScript source and are compiled with the app.
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const unpin = path.join(here, 'build/unpin-asset-urls.cjs');

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  transpilePackages: [
    '@cairn/api',
    '@cairn/store',
    '@cairn/schema',
    '@cairn/pipeline',
    '@cairn/snapshot',
    '@cairn/engine',
    '@cairn/models',
    '@cairn/tracking',
    '@cairn/config',
    '@cairn/http',
  ],
  // The `typecheck` target (tsc -p tsconfig.json) checks the same types; set
  // CAIRN_WEB_SKIP_TYPECHECK=1 to skip the duplicate pass in `next build` (CI images).
  typescript: { ignoreBuildErrors: process.env.CAIRN_WEB_SKIP_TYPECHECK === '1' },
  turbopack: {
    // Server-only code paths of the libs that the portal never runs (the training
    // engine's backend probing, config loading) read files by computed paths: fine at
    // run time, but Turbopack warns that it cannot trace them.
    ignoreIssue: [
      { path: '**/libs/*/src/**', title: /Dynamic filesystem access causes tracing of the whole project/ },
      { path: '**/libs/engine/src/backends/packages.ts', title: /Module not found/ },
    ],
    // Lib files that locate things beside their own source at run time (the schema's
    // migrations folder, the snapshot hash pool's worker and tsx loader) in ways Turbopack
    // cannot bundle: see build/unpin-asset-urls.cjs.
    rules: {
      '**/libs/schema/src/migrations-dir.ts': { loaders: [unpin], as: '*.ts' },
      '**/libs/snapshot/src/hash-pool.ts': { loaders: [unpin], as: '*.ts' },
    },
  },
  serverExternalPackages: [
    '@electric-sql/pglite',
    'pg',
    'bullmq',
    'ioredis',
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-data',
    '@tensorflow/tfjs-layers',
    '@tensorflow/tfjs-backend-cpu',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-backend-webgpu',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
    'webgpu',
    'pngjs',
    '@napi-rs/blake-hash',
    'esbuild',
    'tsx',
    'prom-client',
  ],
};

export default nextConfig;
