import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, for
 * the embedded store's host (pglite-server.ts): the client proves it knows the
 * password without sending it, and the server proves it knows it too (the client
 * checks the server signature), so a process that merely listens on the port, or
 * reads the traffic, learns nothing it can log in with.
 *
 * Only what PostgreSQL accepts without TLS: mechanism SCRAM-SHA-256, no channel
 * binding ('n' or 'y' gs2 flag, never 'p='), no authorization identity. The user
 * name in the SCRAM message is ignored, as PostgreSQL ignores it (pg sends '*').
 */
export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

/** PostgreSQL's default scram_iterations; pg refuses more than 100,000. */
export const SCRAM_ITERATIONS = 4096;

/** What the server keeps instead of the password (RFC 5802 §3): enough to verify, not to log in. */
export interface ScramVerifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/**
 * The verifier of a password. The password is used as its UTF-8 bytes: pg applies
 * SASLprep first, which leaves printable ASCII (what the host generates) unchanged;
 * servePglite refuses any other password.
 */
export function scramVerifier(password: string, options: { salt?: Buffer; iterations?: number } = {}): ScramVerifier {
  const salt = options.salt ?? randomBytes(16);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return { salt, iterations, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

/** A refused exchange: `code` is the SQLSTATE PostgreSQL gives for it. */
export class ScramError extends Error {
  constructor(
    readonly code: '08P01' | '28P01',
    message: string,
  ) {
    super(message);
  }
}

// printable = %x21-2B / %x2D-7E: printable ASCII except ','.
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** One client's exchange: `first` answers client-first-message, `final` checks the proof and answers with the server signature. */
export class ScramExchange {
  #verifier: ScramVerifier;
  #serverNonce: string;
  #state: 'first' | 'final' | 'done' = 'first';
  #gs2Header = '';
  #clientFirstBare = '';
  #serverFirst = '';
  #nonce = '';

  /** `serverNonce` is for tests against the RFC's vectors; leave it out. */
  constructor(verifier: ScramVerifier, serverNonce = randomBytes(18).toString('base64')) {
    if (!PRINTABLE.test(serverNonce)) throw new Error('a SCRAM nonce is printable ASCII without commas');
    this.#verifier = verifier;
    this.#serverNonce = serverNonce;
  }

  /** client-first-message → server-first-message. */
  first(clientFirst: string): string {
    if (this.#state !== 'first') throw new ScramError('08P01', 'unexpected SCRAM client-first-message');
    this.#state = 'final';
    // gs2-header = gs2-cbind-flag "," [authzid] ","
    const m = /^([^,]*),([^,]*),(.*)$/s.exec(clientFirst);
    if (!m) throw new ScramError('08P01', 'malformed SCRAM client-first-message: no GS2 header');
    const [, flag, authzid, bare] = m as unknown as [string, string, string, string];
    if (flag.startsWith('p=')) throw new ScramError('08P01', 'SCRAM channel binding was requested, but this server offers SCRAM-SHA-256 without it (no TLS on loopback)');
    if (flag !== 'n' && flag !== 'y') throw new ScramError('08P01', 'malformed SCRAM client-first-message: unexpected channel-binding flag');
    if (authzid !== '') throw new ScramError('08P01', 'a SCRAM authorization identity is not supported');
    // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    const attrs = bare.split(',');
    if (attrs[0]?.startsWith('m=')) throw new ScramError('08P01', 'SCRAM mandatory extensions are not supported');
    if (!attrs[0]?.startsWith('n=')) throw new ScramError('08P01', 'malformed SCRAM client-first-message: no user name');
    const nonce = attrs[1];
    if (!nonce?.startsWith('r=') || !PRINTABLE.test(nonce.slice(2))) throw new ScramError('08P01', 'malformed SCRAM client-first-message: bad nonce');
    this.#gs2Header = `${flag},${authzid},`;
    this.#clientFirstBare = bare;
    this.#nonce = nonce.slice(2) + this.#serverNonce;
    this.#serverFirst = `r=${this.#nonce},s=${this.#verifier.salt.toString('base64')},i=${this.#verifier.iterations}`;
    return this.#serverFirst;
  }

  /** client-final-message → server-final-message (`v=` the server signature); ScramError 28P01 on a wrong proof. */
  final(clientFinal: string): string {
    if (this.#state !== 'final') throw new ScramError('08P01', 'unexpected SCRAM client-final-message');
    this.#state = 'done';
    // client-final-message = "c=" base64 "," "r=" nonce ["," extensions] "," "p=" base64, the proof last.
    const cut = clientFinal.lastIndexOf(',p=');
    if (cut < 0) throw new ScramError('08P01', 'malformed SCRAM client-final-message: no proof');
    const withoutProof = clientFinal.slice(0, cut);
    const proofText = clientFinal.slice(cut + 3);
    const attrs = withoutProof.split(',');
    const binding = attrs[0];
    if (!binding?.startsWith('c=') || binding.slice(2) !== Buffer.from(this.#gs2Header).toString('base64')) {
      throw new ScramError('08P01', 'SCRAM channel-binding data does not match the GS2 header the client sent');
    }
    if (attrs[1] !== `r=${this.#nonce}`) throw new ScramError('08P01', 'SCRAM nonce does not match');
    if (!BASE64.test(proofText)) throw new ScramError('08P01', 'malformed SCRAM proof');
    const proof = Buffer.from(proofText, 'base64');
    if (proof.length !== 32) throw new ScramError('08P01', 'malformed SCRAM proof');

    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.#verifier.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(sha256(clientKey), this.#verifier.storedKey)) throw new ScramError('28P01', 'password authentication failed');
    return `v=${hmac(this.#verifier.serverKey, authMessage).toString('base64')}`;
  }
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}
