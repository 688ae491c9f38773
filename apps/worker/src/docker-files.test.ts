import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { variableNames } from '@cairn/config';

/**
 * This machine has no Docker engine, so docker/ is checked for what can go stale without
 * one: every file a Dockerfile copies or runs exists, every variable the files set is one
 * Cairn documents and reads, every flag a service passes is one its command takes, the
 * compose services point at each other consistently, and the GPU image installs the tfjs
 * version the engine pins.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DOCKER = path.join(ROOT, 'docker');
const DOCKERFILES = fs.readdirSync(DOCKER).filter((f) => f.endsWith('.Dockerfile'));

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(file: string): Instruction[] {
  const text = fs.readFileSync(path.join(DOCKER, file), 'utf8').replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([A-Z]+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`${file}: cannot read the line '${l}'`);
      return { op: m[1]!, args: m[2]! };
    });
}

/** The variables the README's configuration table documents. */
function documentedVariables(): Set<string> {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'));
  return new Set([...table.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));
}

/** Whether Cairn reads the variable: it is in @cairn/config's table (what apps read, once), or some source under libs/ or apps/ reads it. */
function readByCode(name: string): boolean {
  if (variableNames().includes(name)) return true;
  const r = spawnSync('grep', ['-rlE', `(env\\.${name}\\b|env\\[['"]${name}['"]\\])`, 'libs', 'apps', '--include=*.ts'], { cwd: ROOT, encoding: 'utf8' });
  return r.stdout.trim().length > 0;
}

function helpText(bin: string, args: string[]): string {
  const r = spawnSync(process.execPath, [path.join(ROOT, bin), ...args, '--help'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

function flags(args: string[]): string[] {
  return args.filter((a) => a.startsWith('--'));
}

// Set by images Cairn does not build (postgres) or build arguments: not Cairn configuration.
const FOREIGN = /^(POSTGRES_[A-Z_]+|NODE_MAJOR)$/;

describe('docker/', () => {
  it('has the portal, the CPU worker, the GPU worker, the model server and a compose file', () => {
    expect(DOCKERFILES.sort()).toEqual(['portal.Dockerfile', 'serve.Dockerfile', 'worker-gpu.Dockerfile', 'worker.Dockerfile']);
    expect(fs.existsSync(path.join(DOCKER, 'compose.yaml'))).toBe(true);
    expect(fs.existsSync(path.join(ROOT, '.dockerignore'))).toBe(true);
  });

  it.each(DOCKERFILES)('%s copies and runs files that exist, and sets only documented variables Cairn reads', (file) => {
    const ins = instructions(file);
    expect(ins[0]?.op).toBe('FROM');
    const documented = documentedVariables();
    for (const { op, args } of ins) {
      if (op === 'COPY') {
        const parts = args.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const src of parts.slice(0, -1)) expect(fs.existsSync(path.join(ROOT, src)), `${file}: COPY ${src}`).toBe(true);
      }
      if (op === 'ENV') {
        const [name] = args.split(/[=\s]/);
        expect(documented.has(name!), `${file}: ENV ${name} is not in the README's configuration table`).toBe(true);
        expect(readByCode(name!), `${file}: nothing in libs/ or apps/ reads ${name}`).toBe(true);
      }
      if (op === 'ENTRYPOINT' || op === 'CMD') {
        const argv = JSON.parse(args) as string[];
        for (const a of argv.filter((x) => /\.(js|ts)$/.test(x))) expect(fs.existsSync(path.join(ROOT, a)), `${file}: ${op} runs ${a}`).toBe(true);
      }
    }
    const entry = JSON.parse(ins.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    const cmd = JSON.parse(ins.find((i) => i.op === 'CMD')?.args ?? '[]') as string[];
    const script = entry.find((a) => a.endsWith('.js'))!;
    const sub = entry.slice(entry.indexOf(script) + 1).filter((a) => !a.startsWith('-'));
    // Every flag the image passes is one the command documents.
    const help = helpText(script, sub.slice(0, 1));
    for (const f of flags([...entry, ...cmd])) expect(help, `${file}: ${f}`).toContain(f);
  });

  it('the GPU image installs the tfjs version the engine pins (tfjs is its peer)', () => {
    const engine = JSON.parse(fs.readFileSync(path.join(ROOT, 'libs/engine/package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
    const gpu = fs.readFileSync(path.join(DOCKER, 'worker-gpu.Dockerfile'), 'utf8');
    expect(engine.peerDependencies['@tensorflow/tfjs-core']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(gpu).toContain(`@tensorflow/tfjs-node-gpu@${engine.peerDependencies['@tensorflow/tfjs-core']}`);
  });

  it('compose: builds what exists, wires the store and Redis to its own services, passes only real flags and documented variables', () => {
    const compose = parse(fs.readFileSync(path.join(DOCKER, 'compose.yaml'), 'utf8')) as {
      services: Record<string, { image?: string; build?: { context: string; dockerfile: string }; environment?: Record<string, string>; command?: string[]; volumes?: string[]; depends_on?: Record<string, unknown> }>;
      volumes: Record<string, unknown>;
    };
    const services = compose.services;
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'redis', 'portal', 'worker', 'worker-gpu', 'serve']));
    const documented = documentedVariables();
    const pg = services.postgres!.environment!;
    for (const [name, s] of Object.entries(services)) {
      if (s.build) {
        const context = path.resolve(DOCKER, s.build.context);
        expect(context).toBe(ROOT);
        expect(fs.existsSync(path.join(context, s.build.dockerfile)), `${name}: ${s.build.dockerfile}`).toBe(true);
      }
      for (const dep of Object.keys(s.depends_on ?? {})) expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
      for (const v of s.volumes ?? []) expect(compose.volumes, `${name}: volume ${v}`).toHaveProperty(v.split(':')[0]!);
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (FOREIGN.test(key)) continue;
        expect(documented.has(key), `${name}: ${key} is not in the README's configuration table`).toBe(true);
        if (key === 'DATABASE_URL') {
          const u = new URL(value);
          expect([u.hostname, u.username, u.password, u.pathname.slice(1)]).toEqual(['postgres', pg.POSTGRES_USER, pg.POSTGRES_PASSWORD, pg.POSTGRES_DB]);
        }
        if (key === 'REDIS_URL') expect(new URL(value).hostname).toBe('redis');
      }
    }
    // Redis keeps the queues across a restart (the README says why).
    expect(services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    // The commands' flags exist.
    const workerHelp = helpText('apps/worker/bin/cairn-worker.js', []);
    for (const name of ['worker', 'worker-gpu']) for (const f of flags(services[name]!.command!)) expect(workerHelp, `${name}: ${f}`).toContain(f);
    const serveHelp = helpText('apps/cli/bin/cairn.js', ['serve']);
    for (const f of flags(services.serve!.command!)) expect(serveHelp, `serve: ${f}`).toContain(f);
    const uiHelp = helpText('apps/cli/bin/cairn.js', ['ui']);
    for (const f of flags(services.portal!.command!)) expect(uiHelp, `portal: ${f}`).toContain(f);
    // The portal image builds the web app it starts.
    expect(fs.readFileSync(path.join(DOCKER, 'portal.Dockerfile'), 'utf8')).toMatch(/cd apps\/web && .*next build/);
    expect(fs.existsSync(path.join(ROOT, 'apps/web/package.json'))).toBe(true);
  });
});
