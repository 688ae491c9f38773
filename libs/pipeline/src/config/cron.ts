import { CronExpressionParser } from 'cron-parser';
import { show } from './show.ts';

/*
 * Schedules are read by cron-parser, the parser BullMQ's job schedulers run them with
 * (the same version, pinned in package.json), so a schedule Cairn accepts is one BullMQ
 * runs, and reads the same way. On top of it, Cairn refuses the few forms cron-parser
 * takes but a user almost surely did not mean:
 * - fewer than 5 fields: cron-parser fills in the rest (`0 2 * *` would run at midnight
 *   on the 2nd, `''` every minute);
 * - `H` (a hashed value): without a seed cron-parser picks a new one at each read, and
 *   BullMQ reads the pattern again for every run, so the time would wander;
 * - `?` outside the two day fields, where it only means `*`.
 */

/** The aliases cron-parser reads (as of the pinned version), listed in messages. */
const ALIASES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly', '@minutely', '@secondly', '@weekdays', '@weekends'];

const FIELDS_5 = ['minute', 'hour', 'day of month', 'month', 'day of week'];
const FIELDS_6 = ['second', ...FIELDS_5];

/**
 * Why a cron pattern is unusable, or null: 5 fields (minute hour day-of-month month
 * day-of-week) or 6 with seconds first, or an alias such as `@daily`; in each field `*`,
 * numbers, ranges, steps, lists, month and weekday names, `?` for a day field, and the
 * L and # forms (last day, nth weekday) as cron-parser reads them.
 */
export function cronError(pattern: string): string | null {
  const text = pattern.trim();
  const where = `in cron pattern ${show(pattern)}`;
  if (text.startsWith('@')) {
    if (!ALIASES.includes(text.toLowerCase())) return `unknown alias ${show(text)}: the aliases are ${ALIASES.join(', ')}`;
    return parseError(text);
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return `a cron pattern has 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got ${text ? parts.length : 0} in ${show(pattern)}`;
  }
  const names = parts.length === 6 ? FIELDS_6 : FIELDS_5;
  for (let i = 0; i < parts.length; i++) {
    const field = `${names[i]} ${show(parts[i])}`;
    if (/h/i.test(parts[i]!.replace(/thu/gi, ''))) return `${field}: H (a hashed value) is not supported (BullMQ would pick a new value for each run) ${where}`;
    if (parts[i] === '?' && !names[i]!.startsWith('day of')) return `${field}: ? stands for a day (day of month or day of week) only ${where}`;
  }
  const whole = parseError(text);
  if (whole === null) return null;
  // Name the field at fault: the first that fails on its own, every other field `*`.
  for (let i = 0; i < parts.length; i++) {
    const alone = parts.map((p, j) => (j === i ? p : '*')).join(' ');
    const why = parseError(alone, false);
    if (why !== null) return `${names[i]} ${show(parts[i])}: ${why} ${where}`;
  }
  return `${whole} ${where}`;
}

/**
 * cron-parser's reason for refusing `pattern`, as BullMQ parses it; with `fires`, also
 * a pattern that reads but never comes round (BullMQ would never run it).
 */
function parseError(pattern: string, fires = true): string | null {
  let next: () => unknown;
  try {
    const expression = CronExpressionParser.parse(pattern, { tz: 'UTC' });
    next = () => expression.next();
  } catch (e) {
    return lowerFirst((e as Error).message);
  }
  if (!fires) return null;
  try {
    next();
    return null;
  } catch (e) {
    return `it never fires (${lowerFirst((e as Error).message)})`;
  }
}

/** cron-parser's message as part of ours: lower case first, no full stop. */
function lowerFirst(s: string): string {
  return (s.charAt(0).toLowerCase() + s.slice(1)).replace(/\.$/, '');
}
