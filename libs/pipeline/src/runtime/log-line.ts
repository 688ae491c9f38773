/** The time at the head of each line the worker logs. */
export function stamp(): string {
  return new Date().toISOString();
}

/** A message on one log line. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
