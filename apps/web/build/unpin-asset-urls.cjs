/**
 * Turbopack loader for server-side @cairn lib files that find things next to their
 * own source at run time:
 *
 * - `new URL('../migrations', import.meta.url)` (the schema's migrations
 *   folder): Turbopack would treat the pattern as an asset to bundle and fail on a
 *   folder. Wrapping the base in String() keeps the value (at run time import.meta.url
 *   is the source file's own path) and hides it from the asset analysis.
 * - `import.meta.resolve('pkg/sub')` (the snapshot hash pool's tsx loader): Turbopack
 *   has no import.meta.resolve, so module evaluation would throw. It becomes the same
 *   resolution through createRequire from the source file (the package's `require`
 *   entry, which exports the same API).
 *
 * The rewrite changes nothing when the code runs unbundled (the CLI, the worker).
 */
const RESOLVE_HELPER = [
  "import { createRequire as __cairnCreateRequire } from 'node:module';",
  "import { pathToFileURL as __cairnPathToFileURL } from 'node:url';",
  'const __cairnResolve = (specifier: string, from: string): string => __cairnPathToFileURL(__cairnCreateRequire(from).resolve(specifier)).href;',
  '',
].join('\n');

module.exports = function unpinAssetUrls(source) {
  let out = source.replace(/new URL\(\s*('[^']*'|"[^"]*")\s*,\s*import\.meta\.url\s*\)/g, 'new URL($1, String(import.meta.url))');
  if (/import\.meta\.resolve\(/.test(out)) {
    out = RESOLVE_HELPER + out.replace(/import\.meta\.resolve\(\s*('[^']*'|"[^"]*")\s*\)/g, '__cairnResolve($1, String(import.meta.url))');
  }
  return out;
};
