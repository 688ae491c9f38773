import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { NotFoundError, apiTokens, newId } from '@cairn/schema';
import type { Store } from '@cairn/store';

/**
 * API tokens for the CLI, the tracking client and workers: `cairn_` + 32 random bytes
 * (base64url). The token is shown once, at creation; the database keeps its SHA-256.
 * A salted slow hash (as for passwords) buys nothing here: the secret has 256 bits of
 * entropy, and a plain digest lets a request find its token with one indexed lookup.
 */
export const TOKEN_PREFIX = 'cairn_';
const SHOWN_CHARS = 12;

export interface ApiTokenInfo {
  id: string;
  name: string;
  /** The token's first characters (`cairn_AbCd12`), to tell tokens apart. */
  prefix: string;
  /** The team it is limited to; null: every team of its user. */
  teamId: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function createApiToken(store: Store, input: { userId: string; name: string; teamId?: string | null }): Promise<ApiTokenInfo & { token: string }> {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const [row] = await store
    .drizzle()
    .insert(apiTokens)
    .values({ id: newId(), userId: input.userId, teamId: input.teamId ?? null, name: input.name, tokenHash: hashToken(token), prefix: token.slice(0, SHOWN_CHARS) })
    .returning();
  return { ...info(row!), token };
}

export async function listApiTokens(store: Store, userId: string): Promise<ApiTokenInfo[]> {
  const rows = await store.drizzle().select().from(apiTokens).where(eq(apiTokens.userId, userId)).orderBy(desc(apiTokens.createdAt));
  return rows.map(info);
}

/** Revokes one of the user's tokens; another user's token is not found, as a missing one. */
export async function revokeApiToken(store: Store, userId: string, id: string): Promise<ApiTokenInfo> {
  const db = store.drizzle();
  const mine = and(eq(apiTokens.id, id), eq(apiTokens.userId, userId));
  // coalesce: revoking twice keeps the first time.
  const [row] = await db.update(apiTokens).set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, now())` }).where(mine).returning();
  if (!row) throw new NotFoundError('token', id);
  return info(row);
}

/** The user (and team limit) of a live token; null for an unknown or revoked one. */
export async function findApiToken(store: Store, token: string): Promise<{ id: string; userId: string; teamId: string | null } | null> {
  if (!token.startsWith(TOKEN_PREFIX)) return null;
  const db = store.drizzle();
  const [row] = await db
    .select({ id: apiTokens.id, userId: apiTokens.userId, teamId: apiTokens.teamId })
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, hashToken(token)), isNull(apiTokens.revokedAt)));
  if (!row) return null;
  // At most one write a minute per token: a metrics stream must not turn every batch into an UPDATE.
  await db
    .update(apiTokens)
    .set({ lastUsedAt: sql`now()` })
    .where(and(eq(apiTokens.id, row.id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, sql`now() - interval '1 minute'`))));
  return row;
}

function info(row: typeof apiTokens.$inferSelect): ApiTokenInfo {
  return { id: row.id, name: row.name, prefix: row.prefix, teamId: row.teamId, createdAt: row.createdAt, lastUsedAt: row.lastUsedAt, revokedAt: row.revokedAt };
}
