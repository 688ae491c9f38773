/**
 * Integration tests say in their file name which real services they need, so a reader
 * (or a CI job without one of them) knows before opening the file: `*.postgres.test.ts`,
 * `*.redis.test.ts`, `*.redis-postgres.test.ts`. What a test file needs is read from the
 * helpers it calls: testDrivers()/testPostgres() open a PostgreSQL database when
 * DATABASE_URL is set (CI sets it), testRedis()/connectRedis() and the portal's
 * createWorld() use Redis (createWorld a PostgreSQL database too).
 */
export type Service = 'postgres' | 'redis';

const USES: { service: Service; pattern: RegExp }[] = [
  { service: 'postgres', pattern: /\b(testDrivers|testPostgres|createWorld)\(/ },
  { service: 'redis', pattern: /\b(testRedis|connectRedis|createWorld)\(/ },
];

/** The services a test file's source calls for. */
export function servicesUsed(source: string): Service[] {
  return USES.filter((u) => u.pattern.test(source)).map((u) => u.service).filter((s, i, all) => all.indexOf(s) === i).sort();
}

/** The services a test file's name says it needs (`store.postgres.test.ts` → ['postgres']). */
export function servicesNamed(file: string): Service[] {
  const m = /\.(postgres|redis|redis-postgres)\.test\.tsx?$/.exec(file);
  if (!m) return [];
  return m[1]!.split('-').sort() as Service[];
}
