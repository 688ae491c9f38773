import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { z } from 'zod';
import { ValidationError, formatZodError } from '@cairn/schema';
import { SCRAM_MECHANISM, ScramError, ScramExchange, scramVerifier, type ScramVerifier } from './scram.ts';

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
 *
 * Anyone on the machine can connect to the port, so what a client may do before it
 * has logged in is bounded as PostgreSQL bounds it: SCRAM-SHA-256 only (the password
 * never crosses the socket, the server proves it knows it too), every message before
 * login at most MAX_STARTUP_BYTES, a claimed length over the limit refused on its
 * first bytes (nothing of it is buffered), and a connection not logged in within
 * `authTimeoutMs` dropped. After login, messages are held to `maxMessageBytes` and a
 * connection waiting for the database stops being read past PENDING_HIGH_WATER.
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
  /**
   * Required of every client, through SCRAM-SHA-256 (the password never crosses the
   * socket): other users of the machine must not read the store. Printable ASCII, at
   * least 16 characters.
   */
  password: string;
  /**
   * A connection that holds the database inside a transaction and sends nothing for
   * this long is rolled back and dropped (PostgreSQL's idle_in_transaction_session_timeout):
   * every other process waits while it holds it. Default 60 s; 0 disables.
   */
  idleInTransactionMs?: number;
  /** A connection that has not logged in this long after connecting is dropped (PostgreSQL's authentication_timeout). Default 10 s. */
  authTimeoutMs?: number;
  /** The largest message a logged-in client may send (default MAX_MESSAGE_BYTES); a larger one ends its connection. */
  maxMessageBytes?: number;
}

/** PostgreSQL's MAX_STARTUP_PACKET_LENGTH. Before login every message is held to it: SASL messages are a few hundred bytes. */
export const MAX_STARTUP_BYTES = 10_000;

/**
 * After login. The largest message the store itself sends is a metric chunk's Bind
 * (METRIC_CHUNK points with their summaries and seven rollup levels): about 166 MB at
 * worst, every point with its own 250-character non-ASCII key and 16-digit numbers
 * (message-size.test.ts computes it), a few MB in practice. A note (at most 1 MiB) is
 * far below. PostgreSQL's own limit is 1 GB.
 */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

/** Complete messages waiting for the database beyond this stop reading from the socket until they have run. */
const PENDING_HIGH_WATER = 16 * 1024 * 1024;

const optionsSchema = z.object({
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65_535).optional(),
  password: z.string().regex(/^[\x21-\x7e]{16,}$/, 'must be at least 16 printable ASCII characters'),
  idleInTransactionMs: z.number().int().min(0).optional(),
  authTimeoutMs: z.number().int().min(1).optional(),
  maxMessageBytes: z.number().int().min(MAX_STARTUP_BYTES).max(1 << 30).optional(),
});

/** Starts serving `db`. Call `close()` before closing the PGlite instance. */
export async function servePglite(db: PGlite, options: PgliteServerOptions): Promise<PgliteServer> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError(`invalid PGlite server options: ${formatZodError(parsed.error)}`);
  await db.waitReady;
  const shared: Shared = {
    db,
    verifier: scramVerifier(options.password),
    parameters: await serverParameters(db),
    idleInTransactionMs: options.idleInTransactionMs ?? 60_000,
    authTimeoutMs: options.authTimeoutMs ?? 10_000,
    maxMessageBytes: options.maxMessageBytes ?? MAX_MESSAGE_BYTES,
  };
  const open = new Set<Connection>();
  let nextId = 1;
  let closing = false;

  const server = net.createServer((socket) => {
    if (closing) return void socket.destroy();
    const conn = new Connection(socket, nextId++, shared);
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
  verifier: ScramVerifier;
  parameters: [string, string][];
  idleInTransactionMs: number;
  authTimeoutMs: number;
  maxMessageBytes: number;
}

/** One client connection: startup and SCRAM authentication here, everything after it run by PGlite. */
class Connection {
  readonly ended: Promise<void>;
  #end!: () => void;
  #socket: net.Socket;
  #id: number;
  #s: Shared;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #phase: 'startup' | 'sasl-first' | 'sasl-final' | 'ready' | 'closed' = 'startup';
  #scram: ScramExchange | null = null;
  #authTimer: NodeJS.Timeout | null = null;
  /** Complete messages waiting for the database, in order, and their size. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
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
    // A client that connects and never finishes logging in (silent, or stalled half-way)
    // would otherwise hold a socket and its buffers for ever.
    this.#authTimer = setTimeout(() => this.#fatal('57014', 'canceling authentication due to timeout'), shared.authTimeoutMs);
    this.#authTimer.unref();
  }

  /** Closes the socket; once nothing of this connection's runs in PGlite any more, resolves. */
  drop(last?: Buffer): Promise<void> {
    this.#phase = 'closed';
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#chunks = [];
    this.#buffered = 0;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#authTimer) clearTimeout(this.#authTimer);
    // Nothing more is read: what the client still sends stays in the kernel, not here.
    this.#socket.pause();
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
      this.#handle(msg);
      if (this.#isClosed()) return;
    }
    if (this.#pendingBytes >= PENDING_HIGH_WATER) this.#socket.pause();
    if (this.#pending.length) void this.#pump();
  }

  // A method, so that TypeScript does not narrow #phase across calls that change it.
  #isClosed(): boolean {
    return this.#phase === 'closed';
  }

  /**
   * The next whole message; undefined when more bytes are needed, or when the length
   * the client claims is refused (the connection is then closed). The claim is checked
   * on its first bytes: nothing beyond the limit is ever buffered.
   */
  #nextMessage(): Buffer | undefined {
    const typed = this.#phase !== 'startup';
    const header = typed ? 5 : 4;
    if (this.#buffered < header) return undefined;
    const head = this.#peek(header);
    const length = typed ? 1 + head.readInt32BE(1) : head.readInt32BE(0);
    if (!typed && (length < 8 || length > MAX_STARTUP_BYTES)) {
      this.#fatal('08P01', `invalid length of startup packet: ${length} bytes (at most ${MAX_STARTUP_BYTES})`);
      return undefined;
    }
    const limit = this.#phase === 'ready' ? this.#s.maxMessageBytes : MAX_STARTUP_BYTES;
    if (length < header) {
      this.#fatal('08P01', `invalid message length ${length - 1}`);
      return undefined;
    }
    if (length > limit) {
      const what = this.#phase === 'ready' ? 'message' : 'authentication message';
      this.#fatal('08P01', `${what} of ${length} bytes exceeds the limit of ${limit} bytes`);
      return undefined;
    }
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
    switch (this.#phase) {
      case 'startup':
        return this.#startup(msg);
      case 'sasl-first':
      case 'sasl-final':
        return this.#authenticate(msg);
      default:
        if (msg[0] === 0x58) return void this.drop(); // Terminate
        this.#pending.push(msg);
        this.#pendingBytes += msg.length;
    }
  }

  #startup(msg: Buffer): void {
    const code = msg.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) return void this.#socket.write('N');
    if (code === CANCEL_REQUEST) return void this.drop(); // no backend to signal: the query runs to its end
    if (code !== PROTOCOL_3) return this.#fatal('08P01', `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`);
    // AuthenticationSASL, SCRAM-SHA-256 only: no cleartext password is ever asked for.
    this.#phase = 'sasl-first';
    this.#scram = new ScramExchange(this.#s.verifier);
    this.#socket.write(message('R', Buffer.concat([int32(10), Buffer.from(`${SCRAM_MECHANISM}\0\0`)])));
  }

  /** SASLInitialResponse, then SASLResponse ('p' both): RFC 5802's exchange, in scram.ts. */
  #authenticate(msg: Buffer): void {
    if (msg[0] === 0x58) return void this.drop(); // Terminate
    if (msg[0] !== 0x70) return this.#fatal('08P01', `expected SASL response, got message type ${String.fromCharCode(msg[0]!)}`);
    const body = msg.subarray(5);
    try {
      if (this.#phase === 'sasl-first') {
        const nul = body.indexOf(0);
        if (nul < 0 || body.toString('utf8', 0, nul) !== SCRAM_MECHANISM) {
          return this.#fatal('08P01', `client selected an invalid SASL authentication mechanism (this server offers ${SCRAM_MECHANISM} only)`);
        }
        const data = body.subarray(nul + 5);
        if (body.length < nul + 5 || body.readInt32BE(nul + 1) !== data.length) return this.#fatal('08P01', 'malformed SASLInitialResponse');
        this.#phase = 'sasl-final';
        return void this.#socket.write(message('R', Buffer.concat([int32(11), Buffer.from(this.#scram!.first(data.toString('utf8')))])));
      }
      const serverFinal = this.#scram!.final(body.toString('utf8'));
      this.#loggedIn(serverFinal);
    } catch (e) {
      if (!(e instanceof ScramError)) throw e;
      const text = e.code === '28P01' ? 'password authentication failed: use the URL in CAIRN_HOME/host.json' : e.message;
      this.#fatal(e.code, text);
    }
  }

  #loggedIn(serverFinal: string): void {
    this.#phase = 'ready';
    this.#scram = null;
    if (this.#authTimer) clearTimeout(this.#authTimer);
    this.#authTimer = null;
    const out = [message('R', Buffer.concat([int32(12), Buffer.from(serverFinal)])), message('R', int32(0))];
    for (const [k, v] of this.#s.parameters) out.push(message('S', Buffer.from(`${k}\0${v}\0`)));
    out.push(message('K', Buffer.concat([int32(this.#id), randomBytes(4)])), message('Z', Buffer.from('I')));
    this.#socket.write(Buffer.concat(out));
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
        this.#pendingBytes = 0;
        if (this.#socket.isPaused() && this.#phase === 'ready') this.#socket.resume();
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
