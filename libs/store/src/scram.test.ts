import { describe, expect, it } from 'vitest';
import { ScramError, ScramExchange, scramVerifier } from './scram.ts';

// RFC 7677 §3, the SCRAM-SHA-256 example exchange (user "user", password "pencil").
const RFC = {
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function exchange(password = 'pencil'): ScramExchange {
  return new ScramExchange(scramVerifier(password, { salt: RFC.salt, iterations: 4096 }), RFC.serverNonce);
}

function refusal(f: () => unknown): ScramError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ScramError);
    return e as ScramError;
  }
  throw new Error('expected the exchange to be refused');
}

describe('SCRAM-SHA-256, server side', () => {
  it("answers RFC 7677's example exchange byte for byte", () => {
    const x = exchange();
    expect(x.first(RFC.clientFirst)).toBe(RFC.serverFirst);
    expect(x.final(RFC.clientFinal)).toBe(RFC.serverFinal);
  });

  it('refuses the same client proof when the server holds another password', () => {
    const x = exchange('pencil2');
    x.first(RFC.clientFirst);
    expect(refusal(() => x.final(RFC.clientFinal)).code).toBe('28P01');
  });

  it('refuses a proof with one bit changed', () => {
    const x = exchange();
    x.first(RFC.clientFirst);
    const proof = Buffer.from(RFC.clientFinal.split(',p=')[1]!, 'base64');
    proof[7]! ^= 0x10;
    const forged = `${RFC.clientFinal.split(',p=')[0]},p=${proof.toString('base64')}`;
    expect(refusal(() => x.final(forged)).code).toBe('28P01');
  });

  it.each([
    ['channel binding requested', 'p=tls-server-end-point,,n=user,r=abc'],
    ['an authorization identity', 'n,a=admin,n=user,r=abc'],
    ['a mandatory extension', 'n,,m=ext,n=user,r=abc'],
    ['no nonce', 'n,,n=user'],
    ['a nonce with a comma-free but non-printable byte', 'n,,n=user,r=ab\u0001c'],
    ['no GS2 header', 'n=user,r=abc'],
  ])('refuses a client-first-message with %s', (_label, first) => {
    expect(refusal(() => exchange().first(first)).code).toBe('08P01');
  });

  it.each([
    ['channel-binding data that is not the GS2 header sent', RFC.clientFinal.replace('c=biws', 'c=eSws')],
    ['another nonce', RFC.clientFinal.replace('r=rOpr', 'r=xOpr')],
    ['no proof', RFC.clientFinal.split(',p=')[0]!],
    ['a short proof', `${RFC.clientFinal.split(',p=')[0]},p=AAAA`],
  ])('refuses a client-final-message with %s', (_label, final) => {
    const x = exchange();
    x.first(RFC.clientFirst);
    expect(refusal(() => x.final(final)).code).toBe('08P01');
  });

  it('answers each step once: a second final message is refused', () => {
    const x = exchange();
    x.first(RFC.clientFirst);
    x.final(RFC.clientFinal);
    expect(refusal(() => x.final(RFC.clientFinal)).code).toBe('08P01');
  });
});
