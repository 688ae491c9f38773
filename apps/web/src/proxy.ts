/**
 * Next.js decodes the path of a dynamic route (`/api/[...path]`, `/runs/[id]`) before
 * any of Cairn's code runs, and answers a malformed percent-escape there (`%ZZ`, or
 * escapes that are not UTF-8) with a 500. This answers such requests 400 first. It runs
 * only for paths with a `%` in them, so other requests' bodies are never copied for it.
 */
import { NextResponse, type NextRequest } from 'next/server';

export function proxy(req: NextRequest): NextResponse {
  try {
    decodeURIComponent(req.nextUrl.pathname);
  } catch {
    return NextResponse.json({ error: { code: 'INVALID_INPUT', message: 'the request path has a malformed percent-escape' } }, { status: 400 });
  }
  return NextResponse.next();
}

export const config = { matcher: ['/:path(.*%.*)'] };
