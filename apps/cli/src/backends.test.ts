import fs from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { cli, lines } from './test-support.ts';

// What this machine has, found independently of the code under test.
const resolvable = (name: string) => {
  try {
    createRequire(import.meta.url).resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
};
const nativeInstalled = resolvable('@tensorflow/tfjs-node') || resolvable('@tensorflow/tfjs-node-gpu');
const noGpuDevice = process.platform === 'linux' && !fs.existsSync('/dev/dri') && !fs.existsSync('/dev/nvidia0') && !fs.existsSync('/dev/dxg');

interface Listed {
  trainers: { name: string; usable: boolean; reason: string; detail: string | null }[];
  autoTrainer: string | null;
  forcedTrainer: string | null;
  backends: { name: string; usable: boolean; reason: string; detail: string | null }[];
  auto: string | null;
  forced: string | null;
}

describe('cairn backends', () => {
  it('lists every backend, best first, with why it is or is not usable here (--json)', async () => {
    const r = await cli(['backends', '--json'], { env: { CAIRN_BACKEND: '' } });
    expect(r.code).toBe(0);
    // Dawn's native warnings and tfjs's banners stay off the terminal.
    expect(r.stderr).toBe('');
    const listed = JSON.parse(r.stdout) as Listed;
    expect(listed.backends.map((b) => b.name)).toEqual(['tensorflow', 'webgpu', 'wasm', 'cpu']);
    const by = Object.fromEntries(listed.backends.map((b) => [b.name, b]));
    expect(by.cpu).toMatchObject({ usable: true, reason: 'plain JavaScript: always works, slowest' });
    expect(by.wasm).toMatchObject({ usable: true, reason: 'WebAssembly, SIMD, single-threaded' });
    if (noGpuDevice) {
      expect(by.webgpu).toMatchObject({ usable: false, reason: 'no GPU adapter: requestAdapter() returned null' });
      expect(listed.auto).toBe(nativeInstalled && by.tensorflow!.usable ? 'tensorflow' : 'wasm');
    } else {
      expect(by.webgpu!.reason).not.toBe('');
    }
    if (!nativeInstalled) {
      expect(by.tensorflow).toMatchObject({ usable: false, reason: '@tensorflow/tfjs-node-gpu and @tensorflow/tfjs-node are not installed' });
      expect(by.tensorflow!.detail).toMatch(/npm install @tensorflow\/tfjs-node@\d+\.\d+\.\d+/);
    }
    expect(listed.forced).toBeNull();
    // Trainers first: the native ones Cairn ships, then tfjs, which trains anything.
    expect(listed.trainers.map((t) => t.name)).toEqual(['native-cuda', 'native-cpu', 'tfjs']);
    const trainer = Object.fromEntries(listed.trainers.map((t) => [t.name, t]));
    expect(trainer.tfjs).toMatchObject({ usable: true, reason: 'usable', detail: 'tfjs layers API on the tfjs backend ladder' });
    for (const t of listed.trainers) if (!t.usable) expect(t.reason.length).toBeGreaterThan(10);
    if (!fs.existsSync('/dev/nvidia0')) expect(trainer['native-cuda']!.usable).toBe(false);
    expect(listed.autoTrainer).toBe(listed.trainers.find((t) => t.usable)!.name);
    expect(listed.forcedTrainer).toBeNull();
  });

  it('prints a table and what a run would use; warns when CAIRN_BACKEND forces an unusable backend', async () => {
    const r = await cli(['backends'], { env: { CAIRN_BACKEND: 'webgpu', COLUMNS: '200' } });
    expect(r.code).toBe(0);
    const all = lines(r.stdout);
    expect(all[0]).toMatch(/^TRAINER\s+USABLE\s+WHY$/);
    expect(all.slice(1, 4).map((l) => l.split(/\s+/)[0])).toEqual(['native-cuda', 'native-cpu', 'tfjs']);
    expect(all[3]).toMatch(/^tfjs\s+yes\s+usable/);
    const out = all.slice(all.findIndex((l) => /^BACKEND\s+USABLE\s+WHY$/.test(l)));
    expect(out.length).toBeGreaterThan(4);
    expect(out.slice(1, 5).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ['tensorflow', expect.stringMatching(/^(yes|no)$/)],
      ['webgpu', expect.stringMatching(/^(yes|no)$/)],
      ['wasm', 'yes'],
      ['cpu', 'yes'],
    ]);
    if (noGpuDevice) {
      expect(out[2]).toMatch(/^webgpu\s+no\s+no GPU adapter: requestAdapter\(\) returned null/);
      expect(r.stdout).toContain('CAIRN_BACKEND=webgpu forces webgpu, which is not usable here: runs will fail.');
    }
    if (!nativeInstalled) expect(out[1]).toMatch(/^tensorflow\s+no\s+@tensorflow\/tfjs-node-gpu and @tensorflow\/tfjs-node are not installed/);
  });

  it('says what CAIRN_TRAINER forces, and exits 2 when it names no trainer', async () => {
    const forced = await cli(['backends', '--json'], { env: { CAIRN_TRAINER: 'tfjs' } });
    expect(forced.code).toBe(0);
    expect((JSON.parse(forced.stdout) as Listed).forcedTrainer).toBe('tfjs');
    const r = await cli(['backends'], { env: { CAIRN_TRAINER: 'cuda' } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual(["cairn: CAIRN_TRAINER 'cuda' is not a trainer: use one of native-cuda, native-cpu, tfjs, or auto"]);
  });

  it('exits 2 for a CAIRN_BACKEND that names no backend', async () => {
    const r = await cli(['backends'], { env: { CAIRN_BACKEND: 'cuda' } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual(["cairn: CAIRN_BACKEND 'cuda' is not a backend: use one of tensorflow, webgpu, wasm, cpu, or auto"]);
  });
});
