import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '@cairn/schema';
import { TfjsMissingError, missingTfjsPackage } from './tfjs/peers.ts';
import type { TrainingDefinition } from './types.ts';

/**
 * Errors from a user's training module, pointed at the module's own file and line: a run
 * that fails in train.ts says where in train.ts, whichever loader (tsx, vitest, Node)
 * imported it and whichever way that loader words its errors.
 */

export interface SourceLocation {
  line: number;
  column?: number;
}

const ANSI = /\u001b\[[0-9;]*m/g;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function samePath(token: string, path: string): boolean {
  let p = token;
  if (p.startsWith('file://')) {
    try {
      p = fileURLToPath(p);
    } catch {
      return false;
    }
  }
  return resolve(p) === path || path.endsWith(`/${p.replace(/^\.\//, '')}`);
}

/** The first `path:line[:column]` in the text that names the file (absolute, relative or as a file URL). */
export function locationIn(text: string, path: string): SourceLocation | null {
  const re = new RegExp(`((?:file://)?[^\\s()\\[\\]'"\`]*${escapeRegExp(basename(path))}):(\\d+)(?::(\\d+))?`, 'g');
  for (const m of text.replace(ANSI, '').matchAll(re)) {
    if (samePath(m[1]!, path)) return { line: Number(m[2]), ...(m[3] ? { column: Number(m[3]) } : {}) };
  }
  return null;
}

/** The line of the source that imports `specifier` (static, dynamic or require), 1-based. */
export function importLine(source: string, specifier: string): number | null {
  const q = `['"]${escapeRegExp(specifier)}(?:/[^'"]*)?['"]`;
  const re = new RegExp(`(?:\\bfrom\\s*${q}|\\bimport\\s*${q}|\\bimport\\s*\\(\\s*${q}|\\brequire\\s*\\(\\s*${q})`);
  const lines = source.split('\n');
  const i = lines.findIndex((l) => re.test(l));
  return i < 0 ? null : i + 1;
}

function at(path: string, loc: SourceLocation | null): string {
  return loc ? `${path}:${loc.line}${loc.column ? `:${loc.column}` : ''}` : path;
}

/** One line a user can act on, from a loader's multi-line, coloured message. */
function reasonOf(error: unknown, path: string): string {
  const raw = error instanceof Error ? error.message : String(error);
  const lines = raw
    .replace(ANSI, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Transform failed with \d+ errors?:?$/.test(l) && !/^[│╭╰─┬\s]/.test(l));
  // esbuild (tsx) prefixes the location, which the caller already prints.
  const first = (lines[0] ?? raw).replace(new RegExp(`^\\S*${escapeRegExp(basename(path))}:\\d+(?::\\d+)?:?\\s*`), '');
  const syntax = error instanceof SyntaxError || /PARSE_ERROR|ERROR: |Unexpected token|Expected /.test(raw);
  return syntax && !/^SyntaxError/.test(first) ? `syntax error: ${first.replace(/^\[PARSE_ERROR\]\s*/, '').replace(/^ERROR:\s*/, '')}` : first;
}

/** Why importing the training module failed, naming the module's file and the line at fault. */
export function loadFailure(file: string, path: string, source: string, error: unknown): ValidationError {
  const e = error as { message?: unknown; stack?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const tfjs = missingTfjsPackage(error);
  const missing = /Cannot find (?:package|module) '([^']+)' imported from (\S+)/.exec(message.replace(ANSI, ''));
  let loc: SourceLocation | null = null;
  if (missing && samePath(missing[2]!, path)) {
    const line = importLine(source, missing[1]!);
    if (line) loc = { line };
  }
  loc ??= locationIn(`${message}\n${typeof e?.stack === 'string' ? e.stack : ''}`, path);
  const where = at(file, loc);
  if (tfjs) {
    return new TfjsMissingError(tfjs, `training module ${where} failed to load; import { tf } from '@cairn/engine' instead of tfjs itself, or install it`, { cause: error });
  }
  if (missing) return new ValidationError(`training module ${where} failed to load: it imports '${missing[1]}', which is not installed (npm install ${missing[1]})`, { cause: error });
  return new ValidationError(`training module ${where} failed to load: ${reasonOf(error, path)}`, { cause: error });
}

/** Where in the definition file the error was raised: its deepest stack frame in that file. */
function frameIn(error: Error, path: string): SourceLocation | null {
  return typeof error.stack === 'string' ? locationIn(error.stack.split('\n').slice(1).join('\n'), path) : null;
}

/** The line that declares the function (`data:`, `data(`, `async data(`), when no stack frame reaches the file. */
function declarationLine(source: string, fn: string): number | null {
  const re = new RegExp(`^\\s*(?:async\\s+)?${fn}\\s*[:(]`);
  const i = source.split('\n').findIndex((l) => re.test(l));
  return i < 0 ? null : i + 1;
}

function annotate(error: unknown, fn: string, path: string, source: string): unknown {
  if (!(error instanceof Error) || (error as { definitionLocation?: string }).definitionLocation) return error;
  const frame = frameIn(error, path);
  const line = frame ? null : declarationLine(source, fn);
  const where = at(path, frame ?? (line ? { line } : null));
  const note = ` (in ${fn}() of ${where})`;
  // The same error object, so its class and code (and what callers match on) are kept.
  const first = `${error.name}: ${error.message}`;
  error.message += note;
  if (typeof error.stack === 'string' && error.stack.startsWith(first)) error.stack = `${first}${note}${error.stack.slice(first.length)}`;
  Object.defineProperty(error, 'definitionLocation', { value: where, enumerable: false });
  return error;
}

/**
 * The definition with data(), model() and compile() wrapped so that what they throw (or
 * reject with) names the definition's file and line.
 */
export function withLocatedErrors(def: TrainingDefinition, path: string, source: string): TrainingDefinition {
  const wrap = <F extends (...args: never[]) => unknown>(fn: F, name: string): F =>
    function (this: unknown, ...args: Parameters<F>) {
      try {
        const out = fn.apply(this, args);
        if (out && typeof (out as Promise<unknown>).then === 'function') {
          return (out as Promise<unknown>).then(undefined, (e: unknown) => {
            throw annotate(e, name, path, source);
          });
        }
        return out;
      } catch (e) {
        throw annotate(e, name, path, source);
      }
    } as F;
  return { ...def, data: wrap(def.data.bind(def), 'data'), model: wrap(def.model.bind(def), 'model'), compile: wrap(def.compile.bind(def), 'compile') };
}
