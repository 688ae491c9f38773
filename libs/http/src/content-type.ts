import { HttpError } from './http-error.ts';

/** Whether the media type is `application/json`, whatever its parameters (the ingest endpoints' check). */
export function isJsonContentType(header: string | null | undefined): boolean {
  return (header ?? '').split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

/** `application/json`, with at most a UTF-8 charset; anything else is a 415 (the model server's check). */
export function checkJsonContentType(header: string | undefined): void {
  if (!header) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as JSON with content-type: application/json');
  const [type, ...params] = header.split(';');
  if (type!.trim().toLowerCase() !== 'application/json') {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${JSON.stringify(header.slice(0, 100))} is not supported; send application/json`);
  }
  for (const p of params) {
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    if (name !== 'charset') continue;
    const value = eq < 0 ? '' : p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (value !== 'utf-8' && value !== 'utf8') throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `charset ${JSON.stringify(value.slice(0, 40))} is not supported; send UTF-8 JSON`);
  }
}
