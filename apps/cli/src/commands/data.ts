import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { CairnError, ConflictError, NotFoundError, nameSchema } from '@cairn/schema';
import {
  LocalBlobStore,
  checkout,
  diffProfiles,
  diffTrees,
  gc,
  profileSnapshot,
  snapshotDir,
  verify,
  type BadBlob,
  type ProfileDiff,
  type SnapshotProfile,
  type TreeDiff,
} from '@cairn/snapshot';
import { blobRootFor } from '@cairn/config';
import { cairnHome, type SnapshotRecord, type Store } from '@cairn/store';
import { cliConfig } from '../config.ts';
import { assertStoreExists, globalOptions, storeOptions, withStore } from '../context.ts';
import { UsageError } from '../errors.ts';
import { limitParser } from '../limit.ts';
import { formatBytes, formatDateTime, formatRelative, oneLine } from '../output/format.ts';
import { colors, info, out, outJson } from '../output/io.ts';
import { progressBar } from '../output/progress.ts';
import { renderTable, type Cell } from '../output/table.ts';

/** Snapshot ids are 64 hex digits; 12 are unique in any store a person will meet, as git's short hashes are. */
const SHORT = 12;
const DEFAULT_LOG_LIMIT = 100;
const MAX_LOG_LIMIT = 10_000;

export function registerData(program: Command): void {
  const data = program
    .command('data')
    .description('snapshot, version, compare, restore and verify datasets (content-addressed, like DVC)')
    .option('--blobs <dir>', 'blob store folder (default: $CAIRN_BLOBS, else <CAIRN_HOME>/blobs)');
  registerSnapshot(data);
  registerList(data);
  registerLog(data);
  registerDiff(data);
  registerCheckout(data);
  registerVerify(data);
  registerGc(data);
  registerProfile(data);
}

// ---------------------------------------------------------------- locations

interface DataLocation {
  home: string;
  /** Blob store root. */
  blobs: string;
  /** Stat cache folder: hashes of files already read, keyed by path, size, mtime and inode. */
  state: string;
}

/**
 * --blobs, else $CAIRN_BLOBS, else CAIRN_HOME/blobs, with CAIRN_HOME from --home,
 * $CAIRN_HOME or ./.cairn (also with --db: the database holds the records, the
 * blobs stay on disk). The stat cache lives in CAIRN_HOME/state.
 */
export function dataLocation(cmd: Command): DataLocation {
  const o = cmd.optsWithGlobals<{ home?: string; blobs?: string }>();
  const config = cliConfig();
  const home = cairnHome(o.home ?? config.home);
  const blobs = blobRootFor(config, home, o.blobs);
  return { home, blobs, state: path.join(home, 'state') };
}

function blobStore(loc: DataLocation): LocalBlobStore {
  return new LocalBlobStore(loc.blobs);
}

// ---------------------------------------------------------------- snapshot

interface SnapshotCmdOptions {
  dataset: string;
  message?: string;
  label?: string;
  rehash?: boolean;
  json?: boolean;
}

function registerSnapshot(data: Command): void {
  data
    .command('snapshot')
    .description("snapshot a folder into the blob store and record it as the dataset's newest version")
    .argument('<dir>', 'the folder to snapshot (symlinks are recorded, never followed; special files are skipped)')
    .requiredOption('-d, --dataset <name>', 'dataset name (created on its first snapshot)')
    .option('-m, --message <text>', 'what changed, shown by `cairn data log`')
    .option('--rehash', 'read and hash every file, ignoring the stat cache')
    .option('--label <column>', 'label column of CSV/JSONL tables, for the class balance in the profile')
    .option('--json', 'print the snapshot record, with skipped special files, as JSON')
    .action(async (dirArg: string, opts: SnapshotCmdOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const loc = dataLocation(cmd);
      const name = nameSchema.safeParse(opts.dataset);
      if (!name.success) throw new UsageError(`invalid dataset name '${oneLine(opts.dataset)}': ${name.error.issues[0]?.message ?? 'not a name'}`);
      const dir = path.resolve(dirArg);
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new NotFoundError('directory', dirArg);
      // Fail before reading a large folder rather than after, when there is nowhere to record it.
      assertStoreExists(storeOptions(g));

      const progress = progressBar();
      let result;
      try {
        result = await snapshotDir(dir, {
          store: blobStore(loc),
          statCacheDir: loc.state,
          rehash: Boolean(opts.rehash),
          onProgress: (p) => progress.update(p.done, p.total, p.bytes),
        });
      } finally {
        progress.stop();
      }
      const snap = result;
      // A light profile travels with the record, so drift between versions is one query.
      const profile = await profileSnapshot(snap.id, { store: blobStore(loc), labelColumn: opts.label });

      const { record, latest } = await withStore(g, async (store) => {
        const latest = await latestOrNull(store, opts.dataset);
        const record = await store.recordSnapshot({
          dataset: opts.dataset,
          id: snap.id,
          message: opts.message,
          fileCount: snap.files,
          bytes: snap.bytes,
          profile,
        });
        return { record, latest };
      });

      if (opts.json) {
        outJson({ ...record, skipped: snap.skipped, hashed: snap.hashed, reused: snap.reused });
        return;
      }
      const totals = `${count(record.fileCount, 'file')}, ${formatBytes(record.bytes)}`;
      const dataset = oneLine(record.dataset);
      if (record.created) {
        out(`Recorded snapshot ${colors.yellow(record.id)} of ${dataset}: ${totals}`);
        if (record.parentId) out(colors.dim(`  parent ${record.parentId.slice(0, SHORT)}`));
      } else if (latest?.id === record.id) {
        out(`Unchanged: ${dataset} is already at snapshot ${colors.yellow(record.id)} (${totals})`);
      } else {
        out(`Unchanged: snapshot ${colors.yellow(record.id)} of ${dataset} was already recorded on ${formatDateTime(record.createdAt)} (${totals})`);
      }
      if (snap.skipped.length) {
        const shown = snap.skipped.slice(0, 10).map((s) => `${oneLine(s.path)} (${s.kind})`);
        const more = snap.skipped.length > shown.length ? `, and ${snap.skipped.length - shown.length} more` : '';
        info(colors.yellow(`skipped ${count(snap.skipped.length, 'entry', 'entries')} that cannot be snapshotted: ${shown.join(', ')}${more}`));
      }
    });
}

async function latestOrNull(store: Store, dataset: string): Promise<SnapshotRecord | null> {
  try {
    return await store.latestSnapshot(dataset);
  } catch (e) {
    if (e instanceof NotFoundError) return null;
    throw e;
  }
}

// ---------------------------------------------------------------- list

function registerList(data: Command): void {
  data
    .command('list')
    .alias('ls')
    .description('datasets with their snapshot counts and latest snapshot')
    .option('--json', 'print {datasets: [...]} as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withStore(globalOptions(cmd), async (store) => {
        const list = await store.listDatasets();
        if (opts.json) {
          outJson({ datasets: list });
          return;
        }
        if (list.length === 0) {
          info("No datasets yet: record one with 'cairn data snapshot DIR --dataset NAME'.");
          return;
        }
        out(
          renderTable(
            [{ header: 'NAME', max: 40, min: 10 }, { header: 'SNAPSHOTS', align: 'right' }, { header: 'LATEST' }, { header: 'LAST SNAPSHOT' }],
            list.map((d): Cell[] => [
              d.name,
              String(d.snapshotCount),
              { text: d.latestSnapshotId?.slice(0, SHORT) ?? '-', style: colors.yellow },
              formatRelative(d.lastSnapshotAt),
            ]),
          ),
        );
      });
    });
}

// ---------------------------------------------------------------- log

function registerLog(data: Command): void {
  data
    .command('log')
    .description("a dataset's snapshots, newest first")
    .argument('<dataset>', 'dataset name')
    .option('-n, --limit <n>', `snapshots to show, 1 to ${MAX_LOG_LIMIT}`, limitParser(MAX_LOG_LIMIT), DEFAULT_LOG_LIMIT)
    .option('--json', 'print {dataset, snapshots: [...]} as JSON')
    .action(async (dataset: string, opts: { limit: number; json?: boolean }, cmd: Command) => {
      await withStore(globalOptions(cmd), async (store) => {
        const list = await store.listSnapshots(dataset, opts.limit);
        if (opts.json) {
          outJson({ dataset, snapshots: list.map(({ created: _, ...r }) => r) });
          return;
        }
        if (list.length === 0) {
          info(`No snapshots of ${oneLine(dataset)} yet.`);
          return;
        }
        out(
          renderTable(
            [
              { header: 'ID' },
              { header: 'CREATED' },
              { header: 'FILES', align: 'right' },
              { header: 'SIZE', align: 'right' },
              { header: 'MESSAGE', max: 60, min: 10 },
              { header: 'PARENT' },
            ],
            list.map((s): Cell[] => [
              { text: s.id.slice(0, SHORT), style: colors.yellow },
              formatDateTime(s.createdAt),
              String(s.fileCount),
              formatBytes(s.bytes),
              s.message,
              { text: s.parentId ? s.parentId.slice(0, SHORT) : '-', style: colors.dim },
            ]),
          ),
        );
      });
    });
}


// ---------------------------------------------------------------- diff

function registerDiff(data: Command): void {
  data
    .command('diff')
    .description('files added (+), removed (-) and modified (M) from snapshot A to snapshot B')
    .argument('<a>', 'the older snapshot: id or unique prefix (at least 4 hex digits)')
    .argument('<b>', 'the newer snapshot: id or unique prefix')
    .option('--dirs', 'report a folder that exists on one side only as one line, with its totals')
    .option('--json', 'print {from, to, added, removed, modified} as JSON')
    .action(async (aArg: string, bArg: string, opts: { dirs?: boolean; json?: boolean }, cmd: Command) => {
      const loc = dataLocation(cmd);
      const [a, b] = await withStore(globalOptions(cmd), (store) => Promise.all([store.resolveSnapshotId(aArg), store.resolveSnapshotId(bArg)]));
      const store = blobStore(loc);
      const diff = await diffTrees(a, b, (id) => store.get(id), { collapseDirs: Boolean(opts.dirs) });
      if (opts.json) {
        outJson({ from: a, to: b, ...diff });
        return;
      }
      out(renderDiff(diff));
      info(colors.dim(diffSummary(diff)));
    });
}

function renderDiff(diff: TreeDiff): string {
  const rows: { path: string; line: string }[] = [];
  const sizeOf = (kind: string, size: number, files?: number) =>
    kind === 'dir' ? `${count(files ?? 0, 'file')}, ${formatBytes(size)}` : kind === 'symlink' ? 'symlink' : formatBytes(size);
  for (const d of diff.added) rows.push({ path: d.path, line: colors.green(`+ ${oneLine(d.path)}${d.kind === 'dir' ? '/' : ''} (${sizeOf(d.kind, d.size, d.files)})`) });
  for (const d of diff.removed) rows.push({ path: d.path, line: colors.red(`- ${oneLine(d.path)}${d.kind === 'dir' ? '/' : ''}`) });
  for (const m of diff.modified) {
    const change = m.oldKind !== m.newKind ? `${m.oldKind} → ${m.newKind}` : `${sizeOf(m.oldKind, m.oldSize)} → ${sizeOf(m.newKind, m.newSize)}`;
    rows.push({ path: m.path, line: colors.yellow(`M ${oneLine(m.path)} (${change})`) });
  }
  // One listing in path order, as git prints it.
  rows.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return rows.map((r) => r.line).join('\n');
}

function diffSummary(diff: TreeDiff): string {
  const total = diff.added.length + diff.removed.length + diff.modified.length;
  if (total === 0) return 'no differences';
  return `${diff.added.length} added, ${diff.removed.length} removed, ${diff.modified.length} modified`;
}

// ---------------------------------------------------------------- checkout

function registerCheckout(data: Command): void {
  data
    .command('checkout')
    .description('restore a snapshot into a folder, byte for byte (every chunk is verified as it is read)')
    .argument('<id>', 'snapshot id or unique prefix (at least 4 hex digits)')
    .argument('<dir>', 'destination folder: missing or empty, unless --force')
    .option('-f, --force', 'write into a non-empty folder, replacing the files the snapshot names (others are left alone)')
    .option('--json', 'print {id, dir, files, symlinks, dirs, bytes} as JSON')
    .action(async (idArg: string, dirArg: string, opts: { force?: boolean; json?: boolean }, cmd: Command) => {
      const loc = dataLocation(cmd);
      const dest = path.resolve(dirArg);
      const id = await withStore(globalOptions(cmd), (store) => store.resolveSnapshotId(idArg));
      if (!opts.force && !isEmptyOrMissing(dest)) {
        throw new ConflictError(`${dest} is not empty: check out into an empty folder, or pass --force to overwrite the files the snapshot names`);
      }
      const result = await checkout(id, dest, { store: blobStore(loc), force: Boolean(opts.force) });
      if (opts.json) {
        outJson({ id, dir: dest, ...result });
        return;
      }
      const links = result.symlinks ? `, ${count(result.symlinks, 'symlink')}` : '';
      out(`Checked out ${colors.yellow(id.slice(0, SHORT))} into ${dest}: ${count(result.files, 'file')}${links}, ${formatBytes(result.bytes)}`);
    });
}

function isEmptyOrMissing(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    if (code === 'ENOTDIR') return false;
    throw e;
  }
}

// ---------------------------------------------------------------- verify

function registerVerify(data: Command): void {
  data
    .command('verify')
    .description('re-hash every blob that recorded snapshots use; exit 1 naming every corrupt, missing or unreadable blob and damaged tree, with its files and snapshots')
    .argument('[id]', 'only this snapshot (id or unique prefix); default: every recorded snapshot')
    .option('--json', 'print {snapshots, checked, corrupt, missing, unreadable, invalid} as JSON')
    .action(async (idArg: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const loc = dataLocation(cmd);
      const ids = await withStore(globalOptions(cmd), async (store) => (idArg ? [await store.resolveSnapshotId(idArg)] : (await store.allSnapshotIds()).sort()));
      const result = await verify(ids, { store: blobStore(loc) });
      const damaged: [string, BadBlob & { reason?: string }][] = [
        ...result.corrupt.map((b) => ['corrupt', b] as [string, BadBlob]),
        ...result.missing.map((b) => ['missing', b] as [string, BadBlob]),
        ...result.unreadable.map((b) => ['unreadable', b] as [string, BadBlob & { reason: string }]),
        ...result.invalid.map((b) => ['invalid', b] as [string, BadBlob & { reason: string }]),
      ];
      if (opts.json) {
        outJson({ snapshots: ids, ...result });
      } else {
        for (const [what, b] of damaged) out(colors.red(damageLine(what, b)));
        if (ids.length === 0) info('No snapshots recorded: nothing to verify.');
        else {
          info(
            `${count(result.checked, 'blob')} of ${count(ids.length, 'snapshot')} checked in ${loc.blobs}: ` +
              `${result.corrupt.length} corrupt, ${result.missing.length} missing, ${result.unreadable.length} unreadable, ${result.invalid.length} invalid`,
          );
        }
      }
      if (damaged.length > 0) {
        const files = [...new Set(damaged.flatMap(([, b]) => (b.kind === 'chunk' ? b.files : b.files.map(folderName))))];
        const snapshots = new Set(damaged.flatMap(([, b]) => b.snapshots));
        const trees = damaged.filter(([, b]) => b.kind === 'tree').length;
        throw new CairnError(
          'STORE_DAMAGED',
          `${count(damaged.length, 'damaged blob')}${trees ? ` (${count(trees, 'tree')})` : ''} in ${loc.blobs} ` +
            `(${count(snapshots.size, 'snapshot')}, ${count(files.length, 'file or folder', 'files or folders')} affected: ${files.slice(0, 5).map(oneLine).join(', ')}${files.length > 5 ? ', …' : ''}); ` +
            'restore them from a copy of the blob store, or delete the damaged blobs and snapshot the data again',
        );
      }
    });
}

/** `corrupt  BLOB  labels.csv  in 1a2b3c4d5e6f`; a tree node names its folder; unreadable and invalid ones say why. */
function damageLine(what: string, b: BadBlob & { reason?: string }): string {
  const where = b.kind === 'tree' ? `tree ${b.files.map(folderName).map(oneLine).join(', ')}` : b.files.map(oneLine).join(', ');
  const reason = b.reason ? `  (${oneLine(b.reason)})` : '';
  return `${what}  ${b.blob}  ${where}  in ${b.snapshots.map((s) => s.slice(0, SHORT)).join(', ')}${reason}`;
}

/** A tree node's folder as a path: 'images/', or './' for a snapshot's root. */
function folderName(dir: string): string {
  return `${dir}/`;
}

// ---------------------------------------------------------------- gc

function registerGc(data: Command): void {
  data
    .command('gc')
    .description('delete blobs that no recorded snapshot, artifact or model uses (blobs younger than 10 minutes are kept: a snapshot may be in flight)')
    .option('-n, --dry-run', 'report what would be deleted, delete nothing')
    .option('--json', 'print the gc result as JSON')
    .action(async (opts: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const loc = dataLocation(cmd);
      // Roots: every recorded snapshot, and every artifact or model version stored as a blob.
      const roots = await withStore(globalOptions(cmd), (store) => store.blobRoots());
      if (roots.snapshots.length + roots.blobs.length === 0) throw new ConflictError(`nothing recorded references a blob, so every blob in ${loc.blobs} is unreferenced; gc refuses to empty the blob store`);
      const result = await gc({
        store: blobStore(loc),
        roots: [...roots.snapshots.map((id) => ({ kind: 'snapshot' as const, id })), ...roots.blobs.map((id) => ({ kind: 'blob' as const, id }))],
        dryRun: Boolean(opts.dryRun),
      });
      if (opts.json) {
        outJson(result);
        return;
      }
      const verb = result.dryRun ? 'would remove' : 'removed';
      out(`${verb} ${count(result.removed.length, 'blob')} (${formatBytes(result.removedBytes)}) of ${result.scanned} in ${loc.blobs}; kept ${result.kept}${result.fresh ? ` (${result.fresh} unreferenced but too recent)` : ''}`);
      if (result.missing.length) info(colors.yellow(`${count(result.missing.length, 'blob')} that recorded snapshots use are missing: run 'cairn data verify'`));
    });
}

// ---------------------------------------------------------------- helpers

function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

// ---------------------------------------------------------------- profile

interface ProfileCmdOptions {
  against?: string;
  label?: string;
  json?: boolean;
}

function registerProfile(data: Command): void {
  data
    .command('profile')
    .description('file counts, sizes and table statistics of a snapshot; with --against, the drift between two')
    .argument('<id>', 'snapshot id or unique prefix')
    .option('--against <id>', 'compare with this (older) snapshot: row counts, missing values, types, class balance')
    .option('--label <column>', 'label column for class balance (profiles recorded at snapshot time keep theirs)')
    .option('--json', 'print the profile (or the drift) as JSON')
    .action(async (idArg: string, opts: ProfileCmdOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const loc = dataLocation(cmd);
      const ids = await withStore(g, async (store) => ({
        id: await store.resolveSnapshotId(idArg),
        against: opts.against ? await store.resolveSnapshotId(opts.against) : null,
      }));
      const profileOf = (id: string) => profileSnapshot(id, { store: blobStore(loc), labelColumn: opts.label });
      const b = await profileOf(ids.id);
      if (!ids.against) {
        if (opts.json) outJson(b);
        else printProfile(ids.id, b);
        return;
      }
      const a = await profileOf(ids.against);
      const drift = diffProfiles(a, b);
      if (opts.json) outJson(drift);
      else printDrift(ids.against, ids.id, drift);
    });
}

function printProfile(id: string, p: SnapshotProfile): void {
  out(`snapshot ${id.slice(0, SHORT)}: ${p.files} files, ${formatBytes(p.bytes)}${p.symlinks ? `, ${p.symlinks} symlinks` : ''}`);
  const exts = Object.entries(p.extensions).sort((x, y) => y[1].bytes - x[1].bytes);
  if (exts.length) {
    out();
    out(renderTable([{ header: 'EXTENSION' }, { header: 'FILES', align: 'right' }, { header: 'BYTES', align: 'right' }], exts.map(([ext, e]): Cell[] => [ext || '(none)', String(e.files), formatBytes(e.bytes)])));
  }
  for (const [file, t] of Object.entries(p.tables)) {
    out();
    out(`${file}: ${t.rows} rows (${t.format})`);
    out(
      renderTable(
        [{ header: 'COLUMN' }, { header: 'TYPE' }, { header: 'MISSING', align: 'right' }, { header: 'DISTINCT', align: 'right' }],
        Object.entries(t.columns).map(([c, col]): Cell[] => [c, col.type, String(col.missing), `${col.distinct}${col.distinctCapped ? '+' : ''}`]),
      ),
    );
    if (t.label) {
      const total = Object.values(t.label.classes).reduce((n, v) => n + v, 0);
      const shares = Object.entries(t.label.classes).map(([c, n]) => `${c} ${n} (${((100 * n) / Math.max(total, 1)).toFixed(1)}%)`);
      out(`label ${t.label.column}: ${shares.join(', ')}${t.label.missing ? `; ${t.label.missing} missing` : ''}`);
    }
  }
  for (const n of p.notes) info(`note: ${n.path}: ${n.note}`);
}

function printDrift(a: string, b: string, d: ProfileDiff): void {
  const sign = (n: number) => (n > 0 ? `+${n}` : String(n));
  out(`${a.slice(0, SHORT)} → ${b.slice(0, SHORT)}: files ${sign(d.files.delta)}, bytes ${sign(d.bytes.delta)}`);
  for (const t of d.tablesAdded) out(`+ table ${t}`);
  for (const t of d.tablesRemoved) out(`- table ${t}`);
  for (const [file, t] of Object.entries(d.tables)) {
    out();
    out(`${file}: rows ${t.rows.a} → ${t.rows.b} (${sign(t.rows.delta)})`);
    for (const c of t.columnsAdded) out(`  + column ${c}`);
    for (const c of t.columnsRemoved) out(`  - column ${c}`);
    for (const [c, ty] of Object.entries(t.typeChanges)) out(`  ~ column ${c}: ${ty.a} → ${ty.b}`);
    for (const [c, m] of Object.entries(t.missingRate)) {
      if (m.delta !== 0) out(`  missing ${c}: ${(100 * m.a).toFixed(1)}% → ${(100 * m.b).toFixed(1)}%`);
    }
    if (t.label) {
      for (const [cls, sh] of Object.entries(t.label.classes)) {
        out(`  class ${cls}: ${(100 * sh.shareA).toFixed(1)}% → ${(100 * sh.shareB).toFixed(1)}% (${sh.shift >= 0 ? '+' : ''}${(100 * sh.shift).toFixed(1)} pts)`);
      }
      if (t.label.maxShift) out(`  largest class shift: ${t.label.maxShift.class} ${(100 * t.label.maxShift.shift).toFixed(1)} pts`);
    }
  }
}
