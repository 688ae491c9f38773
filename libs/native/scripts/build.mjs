// Builds the native training core (build/Release/cairn_native.node) with node-gyp against
// node's own headers. Runs as this package's `install` script, so `npm ci` builds it; it
// never fails the install: without a compiler, or when the build fails, it records why in
// build/status.json (read by src/addon.ts, which then reports native-cpu unavailable) and
// exits 0 so Cairn works as before on the tfjs backends.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = path.join(root, 'build');
const statusFile = path.join(buildDir, 'status.json');
const addonFile = path.join(buildDir, 'Release', 'cairn_native.node');
const force = process.argv.includes('--force');

function writeStatus(status) {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(statusFile, JSON.stringify({ ...status, at: new Date().toISOString(), node: process.version, arch: process.arch }, null, 2) + '\n');
}

function unavailable(reason, log) {
  writeStatus({ ok: false, reason, ...(log ? { log: log.slice(-4000) } : {}) });
  console.log(`cairn native: not built: ${reason}. Training runs on the tfjs backends instead.`);
  process.exit(0);
}

/** Every C++ source and build input, hashed: an unchanged tree is not rebuilt. */
function sourcesHash() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(cc|cpp|h|hpp|c|inc)$/.test(e.name)) h.update(path.relative(root, p)).update(readFileSync(p));
    }
  };
  walk(path.join(root, 'src'));
  h.update(readFileSync(path.join(root, 'binding.gyp')));
  h.update(process.version).update(process.arch);
  return h.digest('hex');
}

try {
  if (process.env.CAIRN_NATIVE_BUILD === '0') unavailable('CAIRN_NATIVE_BUILD=0 skipped the build');
  const hash = sourcesHash();
  if (!force && existsSync(addonFile) && existsSync(statusFile)) {
    const prev = JSON.parse(readFileSync(statusFile, 'utf8'));
    if (prev.ok && prev.sourcesHash === hash) {
      console.log('cairn native: the CPU training core is up to date');
      process.exit(0);
    }
  }
  const cxx = process.env.CXX || 'c++';
  const probe = spawnSync(cxx, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) unavailable(`no C++ compiler (${cxx} --version failed: ${probe.error?.message ?? probe.stderr.trim()})`);
  let gyp;
  try {
    gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    unavailable('node-gyp is not installed (a devDependency of @cairn/native)');
  }
  // node's own headers, beside its binary (Debian: /usr/include/node): nothing is downloaded.
  const prefix = path.dirname(path.dirname(process.execPath));
  const nodedir = existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : process.env.npm_config_nodedir;
  if (!nodedir) unavailable(`node's headers were not found under ${prefix}/include/node`);
  const jobs = String(Math.max(1, Math.min(4, (await import('node:os')).availableParallelism())));
  console.log(`cairn native: building the CPU training core (about 60 s)…`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '-j', jobs], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, npm_config_nodedir: nodedir },
    maxBuffer: 64 * 1024 * 1024,
  });
  const log = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(path.join(buildDir, 'build.log'), log);
  if (r.error || r.status !== 0 || !existsSync(addonFile)) {
    const first = log.split('\n').find((l) => /error/i.test(l)) ?? r.error?.message ?? `node-gyp exited ${r.status}`;
    unavailable(`the build failed: ${first.trim()} (full log: libs/native/build/build.log)`, log);
  }
  const seconds = (Date.now() - t0) / 1000;
  writeStatus({ ok: true, sourcesHash: hash, seconds, compiler: probe.stdout.split('\n')[0], size: statSync(addonFile).size });
  console.log(`cairn native: built in ${seconds.toFixed(0)} s`);
} catch (e) {
  unavailable(`the build script failed: ${e instanceof Error ? e.message : String(e)}`);
}
