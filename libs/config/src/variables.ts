import { z } from 'zod';
import { parseAllowedHosts } from '@cairn/schema';

/**
 * Every environment variable Cairn reads, in one table: its schema (what a value must
 * look like), and the words the README's configuration table shows. The README table is
 * rendered from this list (configTableMarkdown) and a test keeps the two equal, so a
 * variable cannot be read without being documented, nor documented without being read.
 */
export interface EnvVariable<T extends z.ZodType = z.ZodType> {
  name: string;
  /** What it does (markdown, one line). */
  meaning: string;
  /** What happens when it is unset (markdown, one line). */
  fallback: string;
  /** Parses the raw value (undefined when unset or blank). */
  schema: T;
}

const optionalText = z.string().optional();

/** `1`, `true`, `yes`, `on` (any case) are true; unset, `0`, `false`, `no`, `off` are false. */
const flag = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return false;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    ctx.addIssue({ code: 'custom', message: `'${v.slice(0, 40)}' is not a yes/no value: use 1 or 0` });
    return z.NEVER;
  });

const positiveInt = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      ctx.addIssue({ code: 'custom', message: `must be a positive integer, got '${v.slice(0, 40)}'` });
      return z.NEVER;
    }
    return Math.min(n, 1024);
  });

const commaList = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean));

/** Kept as given: the store checks the scheme when it opens, with the message users know. */
const databaseUrl = optionalText;

const redisUrl = z
  .string()
  .optional()
  .refine((v) => v === undefined || /^rediss?:\/\//i.test(v), { message: 'must be a redis:// or rediss:// URL' });

const authMode = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const mode = (v ?? '').trim().toLowerCase();
    if (mode === '' || mode === 'local') return 'local' as const;
    if (mode === 'team') return 'team' as const;
    ctx.addIssue({ code: 'custom', message: `'${v!.slice(0, 40)}' is not a mode: use 'team' (accounts, teams, tokens) or 'local' (one user, the default)` });
    return z.NEVER;
  });

/** Undefined when unset (cairn serve tells "unset" from "empty"), else the parsed names. */
const allowedHosts = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    try {
      return parseAllowedHosts(v, 'CAIRN_ALLOWED_HOSTS');
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^CAIRN_ALLOWED_HOSTS: /, '') });
      return z.NEVER;
    }
  });

function variable<T extends z.ZodType>(name: string, schema: T, meaning: string, fallback: string): EnvVariable<T> {
  return { name, schema, meaning, fallback };
}

export const ENV_VARIABLES = {
  home: variable('CAIRN_HOME', optionalText, 'where the embedded store, the blob store and the stat cache live', '`./.cairn`'),
  blobs: variable('CAIRN_BLOBS', optionalText, 'the blob store folder, when not under `CAIRN_HOME`', '`$CAIRN_HOME/blobs`'),
  databaseUrl: variable('DATABASE_URL', databaseUrl, '`postgres://…` to use PostgreSQL instead of embedded PGlite', 'unset (PGlite)'),
  redisUrl: variable('REDIS_URL', redisUrl, 'Redis for the training queues', '`redis://127.0.0.1:6379`'),
  queuePrefix: variable('CAIRN_QUEUE_PREFIX', optionalText, 'BullMQ key prefix, so several projects share one Redis', "the config's `queuePrefix` (`cairn`)"),
  url: variable('CAIRN_URL', optionalText, "a Cairn server for the tracking client's HTTP transport", 'unset'),
  disabled: variable('CAIRN_DISABLED', flag, '`1` turns tracking into a no-op', 'unset'),
  trainer: variable('CAIRN_TRAINER', optionalText, 'force a trainer: `native-cuda`, `native-cpu` or `tfjs`', 'the best one that supports the model'),
  threads: variable('CAIRN_THREADS', positiveInt, 'threads of the native-cpu trainer', 'every core'),
  nativeBuild: variable('CAIRN_NATIVE_BUILD', optionalText, '`0` skips building the native core at install', 'unset (built when a C++ compiler exists)'),
  backend: variable('CAIRN_BACKEND', optionalText, 'force a tfjs backend (`tensorflow`, `webgpu`, `wasm` or `cpu`), and with it the tfjs trainer', 'the best usable one'),
  authMode: variable('CAIRN_AUTH', authMode, '`team`: accounts, teams and roles (better-auth); `local`: one user, no sign-in', '`local`'),
  authSecret: variable('CAIRN_AUTH_SECRET', optionalText, 'team mode: signs session cookies (at least 32 characters, e.g. `openssl rand -hex 32`)', 'required in team mode'),
  authUrl: variable('CAIRN_AUTH_URL', optionalText, "team mode: the portal's public URL; only its origin may post to `/api/auth`, and its scheme decides the cookies", "each request's own origin"),
  authTrustedOrigins: variable('CAIRN_AUTH_TRUSTED_ORIGINS', commaList, 'team mode: more origins (comma-separated) allowed to post to `/api/auth`', 'none'),
  token: variable('CAIRN_TOKEN', optionalText, "the tracking client's API token (`Authorization: Bearer …`), made in the portal (`tokens.create`)", 'unset'),
  allowedHosts: variable(
    'CAIRN_ALLOWED_HOSTS',
    allowedHosts,
    'host names the portal in local mode (and `cairn serve`) answers besides `localhost`, `*.localhost` and IP addresses: comma-separated, `.example.com` for a domain and its subdomains, `*` for any. Others get 403 (a guard against DNS rebinding); `cairn ui --host NAME` adds NAME. For `cairn serve` on a non-loopback `--host`, setting it turns the check on',
    'unset (loopback names and IP addresses only)',
  ),
  debug: variable('CAIRN_DEBUG', flag, '`1`: the CLI prints the stack trace of an unexpected error', 'unset'),
} as const;
