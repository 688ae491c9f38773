import { useSyncExternalStore } from 'react';

const noSubscription = () => () => undefined;

/**
 * False while React hydrates the server's HTML, true after. A query shared with a component
 * outside a page's Suspense boundary (the navigation's `system.info`) can have its answer
 * in the cache before the boundary hydrates (selective hydration, on a slow machine); a
 * view that rendered that answer at once would not match the server's HTML (React #418).
 * What such a view shows from the shared query waits for this.
 */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    noSubscription,
    () => true,
    () => false,
  );
}
