/** The portal build the browser tests run against: the one `cairn ui` makes too. */
export { WEB_DIR, REPO_ROOT, ensurePortalBuild, nextBin, portalBuildIsCurrent } from '@cairn/portal';
