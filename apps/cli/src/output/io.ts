import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

/**
 * Colour only for a terminal: never when NO_COLOR is set (any value, per
 * no-color.org) or stdout is piped, unless FORCE_COLOR asks for it. picocolors'
 * own check also turns colour on under CI, which would put escapes in logs.
 */
export function colorEnabled(env: NodeJS.ProcessEnv = process.env, stream: NodeJS.WriteStream = process.stdout): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

export const colors: Colors = pc.createColors(colorEnabled());

/** Columns available for a table: the terminal's width, else $COLUMNS, else unlimited (piped output is not cut). */
export function outputWidth(env: NodeJS.ProcessEnv = process.env, stream: NodeJS.WriteStream = process.stdout): number {
  if (stream.isTTY && stream.columns) return stream.columns;
  const fromEnv = Number(env.COLUMNS);
  return Number.isInteger(fromEnv) && fromEnv > 20 ? fromEnv : Number.POSITIVE_INFINITY;
}

export function out(text = ''): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Hints and progress go to stderr so stdout stays the data. */
export function info(text: string): void {
  process.stderr.write(`${text}\n`);
}

/**
 * JSON that survives a round trip: dates as ISO strings (Date#toJSON), and NaN
 * and ±Infinity, which JSON cannot hold, as the strings "NaN", "Infinity",
 * "-Infinity". Nothing else is ever written to stdout with --json.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
      if (typeof v === 'bigint') return v.toString();
      return v;
    },
    2,
  );
}

export function outJson(value: unknown): void {
  out(toJson(value));
}
