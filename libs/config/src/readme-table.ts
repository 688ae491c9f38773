import { ENV_VARIABLES } from './variables.ts';

/** The README's configuration table, rendered from ENV_VARIABLES (a test keeps them equal). */
export function configTableMarkdown(): string {
  const rows = Object.values(ENV_VARIABLES).map((v) => `| \`${v.name}\` | ${v.meaning} | ${v.fallback} |`);
  return ['| variable | meaning | default |', '|---|---|---|', ...rows].join('\n');
}

/** Every variable name, in table order. */
export function variableNames(): string[] {
  return Object.values(ENV_VARIABLES).map((v) => v.name);
}
