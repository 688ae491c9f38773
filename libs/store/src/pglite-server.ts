import { randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

/**
 * A PostgreSQL wire-protocol server in front of one PGlite instance, so that other
 * processes can use an embedded store with `pg` exactly as they would PostgreSQL.
 *
 * Why not `PGLiteSocketServer` from @electric-sql/pglite-socket 0.2.17: it does
 * multiplex connections, but it schedules single protocol *messages*, and lets another
 * connection in whenever the database is not inside an explicit transaction block. An
 * extended-protocol query (Parse, Bind, Describe, Execute, Sync) is several messages in
 * one implicit transaction, with one unnamed statement and portal for the whole
 * session; when a message spans several TCP reads (a metric batch's Bind is megabytes)
 * another connection's Parse lands in between and the first connection binds *its*
 * parameters to the other's statement. Reproduced with 3 processes writing 1M-element
 * unnest arrays beside small SELECTs ("invalid input syntax for type integer" on every
 * large insert), and in pglite-server.test.ts over a slow link, where the inserts
 * stored nothing and raised no error. So this server uses the same PGlite primitives
 * (execProtocolRawStream under runExclusive) with a different rule:
 *
 *   a connection that starts talking owns the database until PGlite answers it with
 *   ReadyForQuery in the idle state: a whole extended query, a whole transaction.
 *
 * Ownership is PGlite's own transaction mutex (`_runExclusiveTransaction`, FIFO), the
 * one its `query`, `exec` and `transaction` take, so the hosting process's in-process
 * Store and the remote connections exclude each other too: an in-process query can
 * never run inside a remote connection's transaction, nor the other way round.
 *
 * All connections share PGlite's one session: session state (SET, named prepared
 * statements, temporary tables, advisory locks) is shared. Cairn's store uses none of
 * it across statements (its transactions are BEGIN…COMMIT on one connection), and the
 * startup packet is answered here without touching the session, so one client's
 * startup options cannot change another's settings.
 */
export interface PgliteServer {
  host: string;
  port: number;
  /** Connections open now. */
  readonly connections: number;
  /** Stops accepting, drops every connection (rolling back what they left open), leaves PGlite open. */
  close(): Promise<void>;
}

export interface PgliteServerOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Required of every client (cleartext over loopback): other users of the machine must not read the store. */
  password: string;
  /**
   * A connection that holds the database inside a transaction and sends nothing for
   * this long is rolled back and dropped (PostgreSQL's idle_in_transaction_session_timeout):
   * every other process waits while it holds it. Default 60 s; 0 disables.
   */
  idleInTransactionMs?: number;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
// PostgreSQL refuses messages over 1 GB; so does this server rather than buffering forever.
const MAX_MESSAGE = 1 << 30;

/** Starts serving `db`. Call `close()` before closing the PGlite instance. */
export async function servePglite(db: PGlite, options: PgliteServerOptions): Promise<PgliteServer> {
  await db.waitReady;
  const expected = Buffer.from(options.password, 'utf8');
  const idleInTransactionMs = options.idleInTransactionMs ?? 60_000;
  const parameters = await serverParameters(db);
  const open = new Set<Connection>();
  let nextId = 1;
  let closing = false;

  const server = net.createServer((socket) => {
    if (closing) return void socket.destroy();
    const conn = new Connection(socket, nextId++, { db, expected, parameters, idleInTransactionMs });
    open.add(conn);
    conn.ended.then(() => open.delete(conn));
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  return {
    host: address.address,
    port: address.port,
    get connections() {
      return open.size;
    },
    async close() {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...open].map((c) => c.drop()));
      await stopped;
    },
  };
}

interface Shared {
  db: PGlite;
  expected: Buffer;
  parameters: [string, string][];
  idleInTransactionMs: number;
}

/** One client connection: startup and password here, everything after it run by PGlite. */
class Connection {
  readonly ended: Promise<void>;
  #end!: () => void;
  #socket: net.Socket;
  #id: number;
  #s: Shared;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #phase: 'startup' | 'password' | 'ready' | 'closed' = 'startup';
  /** Complete messages waiting for the database, in order. */
  #pending: Buffer[] = [];
  #pumping = false;
  /** Set while this connection owns the database: calling it hands the database on. */
  #release: (() => void) | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  #cleanup: Promise<void> | null = null;

  constructor(socket: net.Socket, id: number, shared: Shared) {
    this.#socket = socket;
    this.#id = id;
    this.#s = shared;
    this.ended = new Promise((resolve) => (this.#end = resolve));
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', () => undefined);
    socket.on('close', () => void this.drop());
  }

  /** Closes the socket; once nothing of this connection's runs in PGlite any more, resolves. */
  drop(last?: Buffer): Promise<void> {
    this.#phase = 'closed';
    this.#pending = [];
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    // A last message (a FATAL error) is flushed before the socket closes.
    if (last && this.#socket.writable) {
      this.#socket.end(last);
      setTimeout(() => this.#socket.destroy(), 1_000).unref();
    } else this.#socket.destroy();
    this.#cleanup ??= this.#afterClose().finally(() => this.#end());
    return this.#cleanup;
  }

  async #afterClose(): Promise<void> {
    // A batch still running finishes first; it owns the database meanwhile.
    while (this.#pumping) await new Promise((r) => setImmediate(r));
    if (!this.#release) return;
    // The client went away inside a transaction or between an extended query's
    // messages. PostgreSQL would abort its work: so does this. ROLLBACK ends an explicit
    // block or aborts an implicit one; an extended query that failed ignores everything
    // up to Sync, hence Sync and a second ROLLBACK (each is harmless where not needed).
    try {
      await this.#s.db.runExclusive(() =>
        this.#s.db.execProtocolRawStream(Buffer.concat([simpleQuery('ROLLBACK'), SYNC, simpleQuery('ROLLBACK')]), { onRawData: () => undefined }),
      );
    } catch {
      // PGlite closed under us (host shutting down): nothing left to roll back.
    } finally {
      this.#handOn();
    }
  }

  #onData(data: Buffer): void {
    if (this.#phase === 'closed') return;
    this.#chunks.push(data);
    this.#buffered += data.length;
    for (;;) {
      const msg = this.#nextMessage();
      if (msg === undefined) break;
      if (msg === null) return void this.drop();
      this.#handle(msg);
      if (this.#isClosed()) return;
    }
    if (this.#pending.length) void this.#pump();
  }

  // A method, so that TypeScript does not narrow #phase across calls that change it.
  #isClosed(): boolean {
    return this.#phase === 'closed';
  }

  /** The next whole message, undefined when more bytes are needed, null on garbage. */
  #nextMessage(): Buffer | null | undefined {
    const typed = this.#phase === 'ready' || this.#phase === 'password';
    const header = typed ? 5 : 4;
    if (this.#buffered < header) return undefined;
    const head = this.#peek(header);
    const length = typed ? 1 + head.readInt32BE(1) : head.readInt32BE(0);
    if (length < header || length > MAX_MESSAGE) return null;
    if (this.#buffered < length) return undefined;
    return this.#take(length);
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length >= n) return this.#chunks[0]!;
    const all = Buffer.concat(this.#chunks);
    this.#chunks = [all];
    return all;
  }

  // Large messages arrive in many reads: they are joined once, when complete.
  #take(n: number): Buffer {
    let first = this.#chunks[0]!;
    if (first.length < n) {
      first = Buffer.concat(this.#chunks, this.#buffered);
      this.#chunks = [first];
    }
    const msg = first.subarray(0, n);
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    return msg;
  }

  #handle(msg: Buffer): void {
    if (this.#phase === 'startup') {
      const code = msg.readInt32BE(4);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) return void this.#socket.write('N');
      if (code === CANCEL_REQUEST) return void this.drop(); // no backend to signal: the query runs to its end
      if (code !== PROTOCOL_3) return this.#fatal('08P01', `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`);
      this.#phase = 'password';
      return void this.#socket.write(message('R', int32(3))); // AuthenticationCleartextPassword
    }
    if (this.#phase === 'password') {
      const given = msg[0] === 0x70 ? msg.subarray(5, msg.length - 1) : Buffer.alloc(0);
      const ok = given.length === this.#s.expected.length && timingSafeEqual(given, this.#s.expected);
      if (!ok) return this.#fatal('28P01', 'password authentication failed: use the URL in CAIRN_HOME/host.json');
      this.#phase = 'ready';
      const out = [message('R', int32(0))];
      for (const [k, v] of this.#s.parameters) out.push(message('S', Buffer.from(`${k}\0${v}\0`)));
      out.push(message('K', Buffer.concat([int32(this.#id), randomBytes(4)])), message('Z', Buffer.from('I')));
      return void this.#socket.write(Buffer.concat(out));
    }
    if (msg[0] === 0x58) return void this.drop(); // Terminate
    this.#pending.push(msg);
  }

  #fatal(code: string, text: string): void {
    void this.drop(message('E', Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${text}\0\0`)));
  }

  /** Runs what is pending: takes the database when it does not hold it, hands it on when idle. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#pending.length && this.#phase === 'ready') {
        if (this.#idleTimer) clearTimeout(this.#idleTimer);
        this.#idleTimer = null;
        if (!this.#release) await this.#acquire();
        if (this.#phase !== 'ready') break;
        const batch = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
        this.#pending = [];
        const tail = new TailTracker();
        await this.#s.db.runExclusive(() =>
          this.#s.db.execProtocolRawStream(batch, {
            onRawData: (bytes) => {
              tail.feed(bytes);
              // PGlite reuses its output buffer: copy before handing it to the socket.
              if (this.#phase === 'ready') this.#socket.write(Buffer.from(bytes));
            },
          }),
        );
        // Idle: the query (or transaction) is over, the next process may go. Otherwise
        // (inside BEGIN…COMMIT, or between an extended query's messages) keep holding.
        if (tail.idle) this.#handOn();
        else if (this.#s.idleInTransactionMs > 0 && !this.#pending.length) {
          this.#idleTimer = setTimeout(() => this.#fatal('25P03', 'terminating connection due to idle-in-transaction timeout'), this.#s.idleInTransactionMs);
          this.#idleTimer.unref();
        }
      }
    } catch {
      // PGlite itself failed (closed under us): this connection cannot go on.
      void this.drop();
    } finally {
      this.#pumping = false;
    }
  }

  #acquire(): Promise<void> {
    return new Promise<void>((acquired, failed) => {
      this.#s.db
        ._runExclusiveTransaction(
          () =>
            new Promise<void>((release) => {
              this.#release = release;
              acquired();
            }),
        )
        .catch(failed);
    });
  }

  #handOn(): void {
    const release = this.#release;
    this.#release = null;
    release?.();
  }
}

/** Follows the backend's messages across output chunks, to see whether the last is ReadyForQuery 'I'. */
class TailTracker {
  idle = false;
  #header = Buffer.alloc(6);
  #headerFill = 0;
  #remaining = 0;

  feed(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, bytes.length - i);
        this.#remaining -= n;
        i += n;
        continue;
      }
      // Collect a message's type, length and (for ReadyForQuery) its one status byte.
      this.#header[this.#headerFill++] = bytes[i++]!;
      if (this.#headerFill < 5) continue;
      const type = this.#header[0];
      const length = this.#header.readInt32BE(1);
      if (type === 0x5a && length === 5) {
        if (this.#headerFill < 6) continue;
        this.idle = this.#header[5] === 0x49; // 'I'
        this.#headerFill = 0;
        continue;
      }
      this.idle = false;
      this.#remaining = length - 4;
      this.#headerFill = 0;
    }
  }
}

/** What PostgreSQL reports at startup, read once from PGlite so clients see its real settings. */
async function serverParameters(db: PGlite): Promise<[string, string][]> {
  const names = ['server_version', 'server_encoding', 'client_encoding', 'DateStyle', 'IntervalStyle', 'TimeZone', 'integer_datetimes', 'standard_conforming_strings'];
  const res = await db.query<{ name: string; setting: string }>(`SELECT name, current_setting(name) AS setting FROM unnest($1::text[]) AS name`, [names]);
  return [...res.rows.map((r) => [r.name, r.setting] as [string, string]), ['application_name', ''], ['is_superuser', 'on'], ['session_authorization', 'postgres']];
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function simpleQuery(text: string): Buffer {
  return message('Q', Buffer.from(`${text}\0`));
}

const SYNC = message('S', Buffer.alloc(0));
