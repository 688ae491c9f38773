import { describe, expect, it } from 'vitest';
import { bindHostEntry, hostAllowed, hostNotAllowedMessage, isLoopbackAddress, parseAllowedHosts } from './allowed-hosts.ts';

describe('Host allow-list (DNS rebinding)', () => {
  it('answers loopback names and IP addresses with no configuration', () => {
    for (const host of ['localhost', 'localhost:3000', 'LOCALHOST:3000', 'localhost.', 'portal.localhost:3000', '127.0.0.1', '127.0.0.1:3000', '127.8.9.10:80', '[::1]:3000', '[::1]', '192.168.1.10:3000', '0x7f.1:3000', '10.0.0.1']) {
      expect(hostAllowed(host, []), host).toBe(true);
    }
  });

  it('refuses other names, malformed values and a missing Host', () => {
    for (const host of ['attacker.example', 'attacker.example:3000', 'localhost.attacker.example', '127.0.0.1.attacker.example', 'mybox', 'attacker.example@127.0.0.1', '127.0.0.1@attacker.example', 'localhost/x', 'local host', 'localhost:abc', '', null, undefined, 'x'.repeat(400)]) {
      expect(hostAllowed(host, []), String(host)).toBe(false);
    }
  });

  it('answers the names it is told about: exact names, domains with their subdomains, or any with *', () => {
    const allowed = parseAllowedHosts(' Portal.Internal , .Example.COM\tcairn.test. ');
    expect(allowed).toEqual(['portal.internal', '.example.com', 'cairn.test']);
    expect(hostAllowed('portal.internal:3000', allowed)).toBe(true);
    expect(hostAllowed('PORTAL.internal', allowed)).toBe(true);
    expect(hostAllowed('cairn.test:8080', allowed)).toBe(true);
    expect(hostAllowed('example.com', allowed)).toBe(true);
    expect(hostAllowed('a.b.example.com:3000', allowed)).toBe(true);
    expect(hostAllowed('notexample.com', allowed)).toBe(false);
    expect(hostAllowed('other.internal', allowed)).toBe(false);
    expect(hostAllowed('attacker.example', parseAllowedHosts('*'))).toBe(true);
    expect(parseAllowedHosts(undefined)).toEqual([]);
    expect(parseAllowedHosts('bücher.example')).toEqual(['xn--bcher-kva.example']);
  });

  it('refuses entries that are not host names, naming the variable', () => {
    for (const bad of ['http://portal.internal', 'portal.internal:3000', 'a/b', 'user@host', 'a b%']) {
      expect(() => parseAllowedHosts(bad), bad).toThrow(/CAIRN_ALLOWED_HOSTS: .* is not a host name/);
    }
  });

  it('knows loopback listen addresses and turns a named bind host into an entry', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'].every(isLoopbackAddress)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.1.10', 'mybox'].some(isLoopbackAddress)).toBe(false);
    expect(bindHostEntry('mybox.local')).toEqual(['mybox.local']);
    expect([...bindHostEntry('0.0.0.0'), ...bindHostEntry('::'), ...bindHostEntry('127.0.0.1'), ...bindHostEntry('::1')]).toEqual([]);
  });

  it('says what was refused and how to allow it', () => {
    expect(hostNotAllowedMessage('attacker.example:3000')).toMatch(/not 'attacker\.example:3000' .*DNS rebinding.*set CAIRN_ALLOWED_HOSTS=attacker\.example where it starts/);
    expect(hostNotAllowedMessage(undefined)).toMatch(/without a Host header/);
    expect(hostNotAllowedMessage('a\u0000b\u202e')).toContain("'a?b?'");
  });
});
