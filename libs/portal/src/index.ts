export { REPO_ROOT, WEB_DIR, ensurePortalBuild, newestSource, nextBin, portalBuildIsCurrent } from './portal-build.ts';
