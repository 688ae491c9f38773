import { ValidationError } from '@cairn/schema';

export interface ModelRef {
  name: string;
  /** A version number, an alias, or 'latest' (also when the reference names none). */
  ref: string;
}

const REF_RE = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})(?:@([A-Za-z0-9_-]{1,63}))?$/;

/** `iris`, `iris@3`, `iris@production`, `iris@latest` → name and reference. */
export function parseModelRef(text: string): ModelRef {
  const m = REF_RE.exec(text.trim());
  if (!m) throw new ValidationError(`invalid model reference '${text.slice(0, 100)}': NAME, NAME@VERSION or NAME@ALIAS (e.g. iris-mlp@production)`);
  return { name: m[1]!, ref: m[2] ?? 'latest' };
}

export function formatModelRef(name: string, version: number): string {
  return `${name}@${version}`;
}
