import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { CairnError, FilterSyntaxError, type CairnErrorCode } from '@cairn/schema';

/** tRPC codes for Cairn's; the HTTP statuses match the ingest protocol's (httpStatusForCode). */
const CODES: Partial<Record<CairnErrorCode, TRPC_ERROR_CODE_KEY>> = {
  INVALID_INPUT: 'BAD_REQUEST',
  FILTER_SYNTAX: 'BAD_REQUEST',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PARAM_CONFLICT: 'CONFLICT',
  INVALID_STATE: 'CONFLICT',
  STORE_LOCKED: 'SERVICE_UNAVAILABLE',
  STORE_DAMAGED: 'INTERNAL_SERVER_ERROR',
  STORE_UNREACHABLE: 'SERVICE_UNAVAILABLE',
};

export function trpcCodeFor(code: CairnErrorCode): TRPC_ERROR_CODE_KEY {
  return CODES[code] ?? 'INTERNAL_SERVER_ERROR';
}

interface Issue {
  path?: readonly (PropertyKey | { key: PropertyKey })[];
  message: string;
}

function issuesOf(cause: unknown): Issue[] | null {
  const issues = (cause as { issues?: unknown } | null)?.issues;
  return Array.isArray(issues) && issues.every((i) => typeof (i as Issue)?.message === 'string') ? (issues as Issue[]) : null;
}

/** "runIds: Too small: expected array to have >=1 items; limit: …", as formatZodError writes it. */
export function formatIssues(issues: readonly Issue[]): string {
  return issues
    .map((i) => {
      const path = (i.path ?? []).map((p) => String(typeof p === 'object' && p !== null && 'key' in p ? p.key : p)).join('.');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

/**
 * The error a caller sees: a CairnError keeps its message under the matching tRPC code
 * (the Cairn error stays the cause), and an input that fails its schema is a BAD_REQUEST
 * saying which field and why, instead of tRPC's JSON dump of the issues.
 */
export function toClientError(error: TRPCError): TRPCError {
  const cause = error.cause;
  if (cause instanceof CairnError) {
    if (error.code !== 'INTERNAL_SERVER_ERROR' && error.message === cause.message) return error;
    return new TRPCError({ code: trpcCodeFor(cause.code), message: cause.message, cause });
  }
  const issues = error.code === 'BAD_REQUEST' ? issuesOf(cause) : null;
  if (issues) return new TRPCError({ code: 'BAD_REQUEST', message: `invalid input: ${formatIssues(issues)}`, cause });
  return error;
}

/** Extra fields on an error's `data`, for clients that show more than the message. */
export function errorData(error: TRPCError): { cairnCode?: CairnErrorCode; filter?: { message: string; position: number } } {
  const cause = error.cause;
  if (cause instanceof FilterSyntaxError) return { cairnCode: cause.code, filter: { message: cause.detail, position: cause.column } };
  if (cause instanceof CairnError) return { cairnCode: cause.code };
  return {};
}
