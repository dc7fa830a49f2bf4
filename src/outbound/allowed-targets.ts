import net from 'node:net';
import { domainToASCII } from 'node:url';
import { type AddressRange, bits, maskOf, normalizeHostName, parseAddress } from './addresses.js';

/**
 * PLUGBOARD_ALLOWED_TARGETS: the host names, addresses and CIDRs, each optionally with a port,
 * that outbound calls may reach although addresses.ts refuses them by default.
 */

/** An allowed host name or range, for every port or for one. */
export interface AllowedHost {
  /** Lower-case ASCII, without a trailing dot. */
  readonly name: string;
  /** Only connections to this port; undefined: any port. */
  readonly port?: number;
}

export interface AllowedRange extends AddressRange {
  /** Only connections to this port; undefined: any port. */
  readonly port?: number;
}

export interface AllowedTargets {
  readonly hosts: readonly AllowedHost[];
  readonly ranges: readonly AllowedRange[];
}

export const NO_ALLOWED_TARGETS: AllowedTargets = { hosts: [], ranges: [] };

const ACCEPTED_FORMS =
  'expected a host name (jira.corp.local), an IP address (10.1.2.3, fd00::1) or a CIDR (10.0.0.0/8, fd00::/8), ' +
  'each optionally with a port (jira.corp.local:8443, 10.1.2.3:8443, 10.0.0.0/8:8443; IPv6 in brackets: [fd00::1]:8443, [fd00::/8]:8443)';

function badEntry(entry: string, why?: string): Error {
  return new Error(`invalid allowed target "${entry}"${why ? ` (${why})` : ''}: ${ACCEPTED_FORMS}`);
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

function parseHostName(entry: string): string | undefined {
  if (/[/:@\s*?#\\[\]]/.test(entry)) return undefined;
  const ascii = domainToASCII(entry);
  // domainToASCII also parses numeric forms (`127.1` → `127.0.0.1`): those are not host names.
  if (ascii === '' || net.isIP(ascii) !== 0) return undefined;
  const name = normalizeHostName(ascii);
  const labels = name.split('.');
  if (name.length > 253 || !labels.every((label) => LABEL.test(label))) return undefined;
  if (/^(\d+|0x[0-9a-f]*)$/i.test(labels[labels.length - 1] ?? '')) return undefined;
  return name;
}

/**
 * An entry split into its target and port. `:<port>` at the end is a port when what comes before
 * it has no other colon (a host name, IPv4 address or IPv4 CIDR) or ends in brackets (`[fd00::1]`,
 * `[fd00::/8]`, `[fd00::]/8`); an IPv6 address without brackets has no port (`fd00::1:443` is an
 * address). Brackets are removed.
 */
function splitPort(entry: string): { target: string; port?: number } {
  const match = /^(.*):(\d{1,5})$/.exec(entry);
  const before = match?.[1];
  const bracketed = (text: string) => /^\[[^\]]*\](\/\d{1,3})?$/.test(text);
  const unbracket = (text: string) => {
    const inner = text.replace(/^\[([^\]]*)\]/, '$1');
    // Brackets hold an address or a CIDR, never a host name.
    if (text.startsWith('[') && parseAddress(inner.replace(/\/\d{1,3}$/, '')) === undefined)
      throw badEntry(entry);
    return inner;
  };
  if (match === null || before === undefined || (before.includes(':') && !bracketed(before))) {
    if (bracketed(entry)) return { target: unbracket(entry) };
    if (entry.includes('[') || entry.includes(']')) throw badEntry(entry);
    return { target: entry };
  }
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) throw badEntry(entry, 'a port is 1 to 65535');
  if ((before.includes('[') || before.includes(']')) && !bracketed(before)) throw badEntry(entry);
  return { target: unbracket(before), port };
}

/**
 * Parses allowlist entries: host names (exact, case-insensitive, IDN allowed), single addresses
 * (`127.0.0.1`, `::1`, `[::1]`) and CIDRs (`10.0.0.0/8`, `fd00::/8`; host bits are ignored), each
 * optionally with a port (`jira.corp.local:8443`, `10.0.0.0/8:443`, `[fd00::1]:8443`,
 * `[fd00::/8]:443`). Blank entries are skipped; anything else throws an Error naming the entry and
 * the accepted forms.
 */
export function parseAllowedTargets(list: readonly string[]): AllowedTargets {
  const hosts: AllowedHost[] = [];
  const ranges: AllowedRange[] = [];
  for (const raw of list) {
    const entry = raw.trim();
    if (entry === '') continue;
    const { target, port } = splitPort(entry);
    const onPort = port === undefined ? {} : { port };
    const slash = target.lastIndexOf('/');
    if (slash >= 0) {
      const address = parseAddress(target.slice(0, slash));
      const prefixText = target.slice(slash + 1);
      if (address === undefined || !/^\d{1,3}$/.test(prefixText)) throw badEntry(entry);
      const prefix = Number(prefixText);
      if (prefix > Number(bits(address.family)))
        throw badEntry(entry, `prefix longer than ${bits(address.family)}`);
      ranges.push({
        family: address.family,
        network: address.value & maskOf(address.family, prefix),
        prefix,
        ...onPort,
      });
      continue;
    }
    const address = parseAddress(target);
    if (address !== undefined) {
      ranges.push({
        family: address.family,
        network: address.value,
        prefix: Number(bits(address.family)),
        ...onPort,
      });
      continue;
    }
    const host = parseHostName(target);
    if (host === undefined) throw badEntry(entry);
    hosts.push({ name: host, ...onPort });
  }
  return { hosts, ranges };
}
