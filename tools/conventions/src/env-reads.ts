/**
 * Where a source reads an environment variable: `process.env.X`, `process.env['X']`,
 * `env.X` on an env-shaped parameter, or the whole of process.env. Libs read none (each
 * app reads its configuration once, through @cairn/config, and passes options in); this
 * finds the reads so a test can hold the libs to it.
 */
export interface EnvRead {
  line: number;
  text: string;
}

/** `process.env.X`, `process.env['X']`, `env.CAIRN_X` / `env.DATABASE_URL` / `env.REDIS_URL`, `= process.env` defaults. */
const READ = /\bprocess\.env\b(?!\s*[,}])|\benv(?:\.|\[['"])(?:CAIRN_\w+|DATABASE_URL|REDIS_URL)\b/;
/** Handing the whole environment to a child process (`{ ...process.env, X: '' }`) is not a read. */
const CHILD_ENV = /\.\.\.process\.env\b/;

export function envReads(source: string): EnvRead[] {
  const reads: EnvRead[] = [];
  source.split('\n').forEach((text, i) => {
    const code = text.replace(/\/\/.*$/, '');
    if (/^\s*(\*|\/\*\*?)/.test(code)) return; // doc comments
    if (CHILD_ENV.test(code) && !READ.test(code.replace(CHILD_ENV, ''))) return;
    if (READ.test(code)) reads.push({ line: i + 1, text: text.trim() });
  });
  return reads;
}
