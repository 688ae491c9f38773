import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, WEB_DIR, newestSource, nextBin } from './index.ts';

describe('the portal build', () => {
  it('finds the web app of this checkout on disk, and its next', () => {
    expect(REPO_ROOT).toBe(path.resolve(fileURLToPath(import.meta.url), '../../../..'));
    expect(JSON.parse(fs.readFileSync(path.join(WEB_DIR, 'package.json'), 'utf8')).name).toBe('@cairn/web');
    expect(fs.existsSync(nextBin())).toBe(true);
  });

  it('dates a build by the newest source, tests left out', () => {
    const newest = newestSource();
    expect(newest.file).not.toMatch(/\.test\.tsx?$/);
    // This lib's own source is one of the portal's sources (every lib's src is).
    expect(newest.mtimeMs).toBeGreaterThanOrEqual(fs.statSync(fileURLToPath(new URL('./portal-build.ts', import.meta.url))).mtimeMs);
    expect(newest.mtimeMs).toBeGreaterThanOrEqual(fs.statSync(path.join(WEB_DIR, 'package.json')).mtimeMs);
  });
});
