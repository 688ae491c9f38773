import fs from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/**
 * The embedded store's files belong to the user running Cairn alone, as PostgreSQL's
 * own do (pg_dir_create_mode 0700, pg_file_create_mode 0600): the data directory holds
 * every run, note and password hash of team mode.
 *
 * PostgreSQL gets there with umask(077) and fopen's 0666; inside PGlite, emscripten's
 * file system keeps the umask to itself and chmods every file it creates to the mode
 * asked for, so initdb's files and those fopen makes later (pg_internal.init, …) land
 * 0666 on disk whatever the process umask. Setting the process umask instead would
 * change every other file the process writes (blobs, checkouts, exports), and only
 * while it is set. So the store's own file system applies the umask PostgreSQL
 * wanted, for this PGlite instance only, and openers fix what an older store left.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
const GROUP_OTHER = 0o077;

/** Makes `dir` (created when missing), every folder under it 0700 and every file 0600; links are left alone. */
export function makePrivate(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const fix = (p: string, isDir: boolean) => {
    const want = isDir ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
    if ((fs.lstatSync(p).mode & 0o777) !== want) fs.chmodSync(p, want);
  };
  fix(dir, true);
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isSymbolicLink() || !(e.isDirectory() || e.isFile())) continue;
    fix(path.join(e.parentPath, e.name), e.isDirectory());
  }
}

/** The parts of emscripten's NODEFS that create files or set their modes (emscripten 4, as bundled by PGlite 0.5). */
interface NodeFsOps {
  node_ops: { mknod(parent: unknown, name: string, mode: number, dev: number): unknown; setattr(node: unknown, attr: { mode?: number }): void };
  stream_ops: { setattr(stream: unknown, attr: { mode?: number }): void };
}

type EmscriptenOpts = Awaited<ReturnType<NodeFS['init']>>['emscriptenOpts'];

/**
 * PGlite's NodeFS with umask 077 applied to what PostgreSQL creates and chmods. Should a
 * PGlite upgrade change the shape patched here, nothing is patched: makePrivate on open
 * and the 0700 data directory still keep other users out, and store-files.test.ts fails.
 */
export class PrivateNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): Promise<{ emscriptenOpts: EmscriptenOpts }> {
    const { emscriptenOpts } = await super.init(pg, opts);
    const preRun = [...((emscriptenOpts.preRun as ((mod: unknown) => void)[] | undefined) ?? [])];
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [applyUmask, ...preRun] } };
  }
}

function applyUmask(mod: unknown): void {
  const nodefs = (mod as { FS?: { filesystems?: { NODEFS?: Partial<NodeFsOps> } } }).FS?.filesystems?.NODEFS;
  const nodeOps = nodefs?.node_ops;
  const streamOps = nodefs?.stream_ops;
  if (typeof nodeOps?.mknod !== 'function' || typeof nodeOps.setattr !== 'function' || typeof streamOps?.setattr !== 'function') return;
  const { mknod, setattr } = nodeOps;
  const setattrStream = streamOps.setattr;
  const masked = <T extends { mode?: number }>(attr: T): T => (attr.mode === undefined ? attr : { ...attr, mode: attr.mode & ~GROUP_OTHER });
  nodeOps.mknod = (parent, name, mode, dev) => mknod(parent, name, mode & ~GROUP_OTHER, dev);
  nodeOps.setattr = (node, attr) => setattr(node, masked(attr));
  streamOps.setattr = (stream, attr) => setattrStream(stream, masked(attr));
}
