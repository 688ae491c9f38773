import { describe, expect, it } from 'vitest';
import { ValidationError } from '@cairn/schema';
import { defaultConfig, readConfig, readSettings } from './config.ts';

describe('readConfig', () => {
  it('gives every default for an empty environment', () => {
    const c = defaultConfig();
    expect(c.home).toBeUndefined();
    expect(c.databaseUrl).toBeUndefined();
    expect(c.disabled).toBe(false);
    expect(c.debug).toBe(false);
    expect(c.authMode).toBe('local');
    expect(c.authTrustedOrigins).toEqual([]);
    expect(c.allowedHosts).toBeUndefined();
    expect(c.threads).toBeUndefined();
  });

  it('types and normalises what is set', () => {
    const c = readConfig({
      CAIRN_HOME: '/tmp/h',
      DATABASE_URL: 'postgres://u@h/db',
      REDIS_URL: 'redis://r:6379',
      CAIRN_DISABLED: 'true',
      CAIRN_THREADS: ' 3 ',
      CAIRN_AUTH: 'Team',
      CAIRN_AUTH_TRUSTED_ORIGINS: 'https://a.example, https://b.example,',
      CAIRN_ALLOWED_HOSTS: 'Cairn.Internal,.example.com',
      CAIRN_DEBUG: '1',
    });
    expect(c).toMatchObject({
      home: '/tmp/h',
      databaseUrl: 'postgres://u@h/db',
      redisUrl: 'redis://r:6379',
      disabled: true,
      threads: 3,
      authMode: 'team',
      authTrustedOrigins: ['https://a.example', 'https://b.example'],
      allowedHosts: ['cairn.internal', '.example.com'],
      debug: true,
    });
  });

  it('treats a blank value as unset', () => {
    expect(readConfig({ DATABASE_URL: '  ', CAIRN_ALLOWED_HOSTS: '' }).databaseUrl).toBeUndefined();
    expect(readConfig({ CAIRN_ALLOWED_HOSTS: '' }).allowedHosts).toBeUndefined();
  });

  it('refuses bad values, naming each variable', () => {
    const bad = () => readConfig({ CAIRN_THREADS: 'many', CAIRN_AUTH: 'open', REDIS_URL: 'http://x', CAIRN_DISABLED: 'maybe', CAIRN_ALLOWED_HOSTS: 'http://x:80' });
    expect(bad).toThrow(ValidationError);
    try {
      bad();
    } catch (e) {
      const m = (e as Error).message;
      for (const name of ['CAIRN_THREADS', 'CAIRN_AUTH', 'REDIS_URL', 'CAIRN_DISABLED', 'CAIRN_ALLOWED_HOSTS']) expect(m).toContain(name);
      expect(m).toContain("'open' is not a mode");
      expect((e as ValidationError).code).toBe('INVALID_INPUT');
    }
  });

  it('reads only the settings asked for, ignoring bad values elsewhere', () => {
    expect(readSettings({ CAIRN_URL: 'http://c:3000', CAIRN_THREADS: 'many' }, ['url', 'disabled'])).toEqual({ url: 'http://c:3000', disabled: false });
    expect(() => readSettings({ CAIRN_THREADS: 'many' }, ['threads'])).toThrow(/CAIRN_THREADS: must be a positive integer, got 'many'/);
  });
});

describe('blobRootFor', () => {
  it('takes the flag, else CAIRN_BLOBS, else <home>/blobs', async () => {
    const { blobRootFor } = await import('./places.ts');
    expect(blobRootFor(readConfig({}), '/h')).toBe('/h/blobs');
    expect(blobRootFor(readConfig({ CAIRN_BLOBS: '/b' }), '/h')).toBe('/b');
    expect(blobRootFor(readConfig({ CAIRN_BLOBS: '/b' }), '/h', '/f')).toBe('/f');
    expect(blobRootFor(readConfig({ CAIRN_BLOBS: '' }), '/h')).toBe('/h/blobs');
  });
});
