/**
 * Once per `vitest run -c vitest.e2e.config.ts`: fail at once without the browser, then
 * make sure apps/web/.next is a current production build (built only when a source
 * changed since the last build; see support/build.ts).
 */
import { assertChromium } from './support/browser.ts';
import { ensurePortalBuild } from './support/build.ts';

export default async function setup(): Promise<void> {
  assertChromium();
  const { built, ms } = await ensurePortalBuild((line) => console.log(`[e2e] ${line}`));
  console.log(built ? `[e2e] portal built in ${(ms / 1000).toFixed(1)} s` : '[e2e] portal build is current (apps/web/.next reused)');
}
