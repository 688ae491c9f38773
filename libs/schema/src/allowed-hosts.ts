import { ValidationError } from './errors.ts';

/*
 * DNS rebinding: a page on attacker.example, once the attacker points that name at
 * 127.0.0.1, is same-origin with a server on the victim's machine, and reads and writes
 * it through the victim's browser. What the browser cannot hide is the name: it sends
 * `Host: attacker.example`. A server without accounts (the portal in local mode, the
 * model server on loopback) therefore answers only Host values that name this machine:
 *
 * - localhost and *.localhost (browsers resolve these to loopback themselves);
 * - IP addresses, IPv4 or IPv6 (loopback, LAN or public alike: a page cannot rebind an
 *   address, only a name; its origin is the address itself);
 * - the names an operator allows (CAIRN_ALLOWED_HOSTS): `name`, `.example.com` for a
 *   domain and all its subdomains, or `*` for any Host (the check off).
 */

/** The variable that lists the extra names; named in every refusal. */
export const ALLOWED_HOSTS_VARIABLE = 'CAIRN_ALLOWED_HOSTS';

export const ANY_HOST = '*';

const NAME = /^\.?[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*\.?$/;

/** The hostname of a Host header value (`name:port`, `[v6]:port`), or null when it is not one. */
function hostnameOf(host: string): string | null {
  // Only a host and a port: no user info, path, query, fragment or space for the URL parser to split off.
  if (!host || host.length > 300 || /[\s/\\?#@%]/.test(host)) return null;
  let hostname: string;
  try {
    // The WHATWG parser, as browsers use it: lower case, punycode, IPv4 in its dotted form.
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return null;
  }
  return hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
}

function isIpLiteral(hostname: string): boolean {
  // After the URL parser an IPv4 address is always dotted decimal, and an IPv6 one bracketed.
  return hostname.startsWith('[') || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Whether a request with this Host header value may be answered: it names this machine
 * (localhost, *.localhost, an IP address) or a name in `allowed` (see parseAllowedHosts).
 * A missing or malformed Host is refused: browsers always send one.
 */
export function hostAllowed(host: string | null | undefined, allowed: readonly string[]): boolean {
  if (allowed.includes(ANY_HOST)) return true;
  const hostname = hostnameOf(host ?? '');
  if (hostname === null) return false;
  if (hostname === 'localhost' || hostname.endsWith('.localhost') || isIpLiteral(hostname)) return true;
  return allowed.some((entry) => (entry.startsWith('.') ? hostname === entry.slice(1) || hostname.endsWith(entry) : hostname === entry));
}

/**
 * CAIRN_ALLOWED_HOSTS's entries (comma- or space-separated), normalised as hostnames are
 * compared: lower case, punycode, no trailing dot. Throws a ValidationError naming the
 * first entry that is not a host name, `.domain` or `*` (a port or a URL, say).
 */
export function parseAllowedHosts(value: string | undefined, variable = ALLOWED_HOSTS_VARIABLE): string[] {
  const entries = (value ?? '').split(/[\s,]+/).filter(Boolean);
  return entries.map((raw) => {
    if (raw === ANY_HOST) return ANY_HOST;
    const suffix = raw.startsWith('.');
    const hostname = hostnameOf(suffix ? raw.slice(1) : raw);
    if (hostname === null || !NAME.test(hostname) || /:/.test(raw)) {
      throw new ValidationError(`${variable}: '${raw.slice(0, 100)}' is not a host name: give names without scheme or port, comma-separated (e.g. cairn.internal,.example.com), or * for any`);
    }
    return suffix ? `.${hostname}` : hostname;
  });
}

/** Whether a listen address is loopback only (the model server's default, 127.0.0.1). */
export function isLoopbackAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  return a === 'localhost' || a === '::1' || /^127(?:\.\d{1,3}){3}$/.test(a);
}

/** The listen address as an allow-list entry when it is a name (an address is allowed anyway). */
export function bindHostEntry(address: string): string[] {
  if (!address || address === '0.0.0.0' || address === '::') return [];
  const hostname = hostnameOf(address.includes(':') && !address.startsWith('[') ? `[${address}]` : address);
  return hostname && !isIpLiteral(hostname) && NAME.test(hostname) ? [hostname] : [];
}

/** The refusal's message: what was refused, why, and how to allow it. */
export function hostNotAllowedMessage(host: string | null | undefined, variable = ALLOWED_HOSTS_VARIABLE): string {
  const shown = (host ?? '').replace(/[^\x21-\x7e]/g, '?').slice(0, 100);
  const name = hostnameOf(host ?? '');
  return (
    `this server has no accounts and answers only requests addressed to localhost, an IP address or a host name it was told about, not ${shown ? `'${shown}'` : 'a request without a Host header'} ` +
    `(a guard against DNS rebinding: a web page could otherwise use your browser to reach it). ` +
    `To reach it by this name, set ${variable}=${name && NAME.test(name) ? name : '<host name>'} where it starts (comma-separated names; .example.com allows a domain and its subdomains)`
  );
}
