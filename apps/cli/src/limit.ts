import { InvalidArgumentError } from 'commander';

/** A commander parser for `--limit`: a whole number from 1 to `max`, or a usage error. */
export function limitParser(max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}`);
    }
    return n;
  };
}
