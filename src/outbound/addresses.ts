import net from 'node:net';
import { domainToASCII } from 'node:url';

/**
 * Which addresses an outbound call may reach.
 *
 * Refused by default: every address that is not global unicast (loopback, private, link-local — which
 * includes the cloud metadata endpoints 169.254.169.254 and fd00:ec2::254 —, CGNAT, documentation,
 * benchmarking, multicast, reserved). IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:0:0/96,
 * NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the embedded IPv4 address. The whole of ::/8 other
 * than those is refused (IPv4-compatible ::/96, ::, ::1, IPv4-translated ::ffff:0:0:0/96, NAT64 local-use
 * 64:ff9b:1::/48 are all in it).
 *
 * Operators make exceptions with host names and CIDRs (PLUGBOARD_ALLOWED_TARGETS).
 */

export type IpFamily = 4 | 6;

export interface AddressRange {
  readonly family: IpFamily;
  /** The network address, host bits cleared. */
  readonly network: bigint;
  readonly prefix: number;
}

export interface AllowedTargets {
  /** Lower-case ASCII host names without a trailing dot. */
  readonly hosts: ReadonlySet<string>;
  readonly ranges: readonly AddressRange[];
}

export const NO_ALLOWED_TARGETS: AllowedTargets = { hosts: new Set(), ranges: [] };

interface ParsedAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

/** Strict dotted-decimal IPv4 (as produced by DNS and by WHATWG URL normalisation). */
export function parseIPv4(text: string): bigint | undefined {
  if (!net.isIPv4(text)) return undefined;
  let value = 0n;
  for (const part of text.split('.')) value = (value << 8n) | BigInt(Number(part));
  return value;
}

function hexWords(part: string, allowTrailingIPv4: boolean): number[] | undefined {
  if (part === '') return [];
  const words: number[] = [];
  const groups = part.split(':');
  for (const [index, group] of groups.entries()) {
    if (group.includes('.')) {
      const v4 = allowTrailingIPv4 && index === groups.length - 1 ? parseIPv4(group) : undefined;
      if (v4 === undefined) return undefined;
      words.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else {
      if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
      words.push(Number.parseInt(group, 16));
    }
  }
  return words;
}

/** IPv6 in any textual form (compressed, with a trailing dotted IPv4, with a `%zone`), as a 128-bit number. */
export function parseIPv6(text: string): bigint | undefined {
  const zone = text.indexOf('%');
  const address = zone >= 0 ? text.slice(0, zone) : text;
  if (!net.isIPv6(address)) return undefined;
  const gap = address.indexOf('::');
  let words: number[];
  if (gap >= 0) {
    const head = hexWords(address.slice(0, gap), false);
    const tail = hexWords(address.slice(gap + 2), true);
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = hexWords(address, true);
    if (all === undefined || all.length !== 8) return undefined;
    words = all;
  }
  let value = 0n;
  for (const word of words) value = (value << 16n) | BigInt(word);
  return value;
}

function parseAddress(text: string): ParsedAddress | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIPv6(text);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

function bits(family: IpFamily): bigint {
  return family === 4 ? 32n : 128n;
}

function maskOf(family: IpFamily, prefix: number): bigint {
  const width = bits(family);
  const all = (1n << width) - 1n;
  return (all >> (width - BigInt(prefix))) << (width - BigInt(prefix));
}

function contains(range: AddressRange, address: ParsedAddress): boolean {
  return (
    range.family === address.family && (address.value & maskOf(range.family, range.prefix)) === range.network
  );
}

function range(cidr: string): AddressRange {
  const [text = '', prefixText = ''] = cidr.split('/');
  const address = parseAddress(text);
  if (address === undefined) throw new Error(`bad built-in range ${cidr}`);
  const prefix = Number(prefixText);
  return { family: address.family, network: address.value & maskOf(address.family, prefix), prefix };
}

interface Refusal {
  readonly range: AddressRange;
  readonly reason: string;
}

function refusals(list: readonly (readonly [string, string])[]): Refusal[] {
  return list.map(([cidr, reason]) => ({ range: range(cidr), reason }));
}

const REFUSED_V4 = refusals([
  ['0.0.0.0/8', '"this network"'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared (CGNAT)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  // Before 240.0.0.0/4, which contains it: the first matching range names the reason.
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
]);

/** IPv6 ranges whose last 32 bits are an IPv4 address that decides. */
const EMBEDDING_V4_IN_LOW_BITS = [range('::ffff:0:0/96'), range('64:ff9b::/96')];
const SIX_TO_FOUR = range('2002::/16');

const REFUSED_V6 = refusals([
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'IPv4-compatible'],
  ['::/8', 'reserved'],
  ['100::/64', 'discard-only'],
  ['2001:db8::/32', 'documentation'],
  ['fc00::/7', 'unique-local (private, AWS metadata)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
]);

/** The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64, 6to4), if any. */
function embeddedIPv4(address: ParsedAddress): ParsedAddress | undefined {
  if (address.family !== 6) return undefined;
  if (EMBEDDING_V4_IN_LOW_BITS.some((r) => contains(r, address))) {
    return { family: 4, value: address.value & 0xffffffffn };
  }
  if (contains(SIX_TO_FOUR, address)) return { family: 4, value: (address.value >> 80n) & 0xffffffffn };
  return undefined;
}

function reasonFor(address: ParsedAddress): string | undefined {
  const embedded = embeddedIPv4(address);
  if (embedded !== undefined) {
    const inner = reasonFor(embedded);
    return inner === undefined ? undefined : `${inner}, as IPv4 inside IPv6`;
  }
  const list = address.family === 4 ? REFUSED_V4 : REFUSED_V6;
  return list.find((r) => contains(r.range, address))?.reason;
}

/**
 * Why `address` is refused by default (e.g. `loopback`), or undefined when it is an ordinary public
 * address. Text that is not an IP address is refused (`not an IP address`).
 */
export function refusalReason(address: string): string | undefined {
  const parsed = parseAddress(address);
  if (parsed === undefined) return 'not an IP address';
  return reasonFor(parsed);
}

/** Lower-cases a host name and drops one trailing dot (`LOCALHOST.` → `localhost`). */
export function normalizeHostName(hostname: string): string {
  const lower = hostname.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * True when a connection to `address` is acceptable: it is not in a refused range, or an allowed CIDR
 * covers it (or the IPv4 address it embeds), or `hostname` — the name it was resolved from — is allowed.
 */
export function isAllowedAddress(
  address: string,
  family: IpFamily,
  hostname: string | undefined,
  allow: AllowedTargets,
): boolean {
  if (hostname !== undefined && allow.hosts.has(normalizeHostName(hostname))) return true;
  const parsed = parseAddress(address);
  if (parsed === undefined || parsed.family !== family) return false;
  const embedded = embeddedIPv4(parsed);
  const covered = (a: ParsedAddress) => allow.ranges.some((r) => contains(r, a));
  if (covered(parsed) || (embedded !== undefined && covered(embedded))) return true;
  return reasonFor(parsed) === undefined;
}

const ACCEPTED_FORMS =
  'expected a host name (jira.corp.local), an IP address (10.1.2.3, fd00::1) or a CIDR (10.0.0.0/8, fd00::/8)';

function badEntry(entry: string, why?: string): Error {
  return new Error(`invalid allowed target "${entry}"${why ? ` (${why})` : ''}: ${ACCEPTED_FORMS}`);
}

function stripBrackets(text: string): string {
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
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
 * Parses allowlist entries: host names (exact, case-insensitive, IDN allowed), single addresses
 * (`127.0.0.1`, `::1`, `[::1]`) and CIDRs (`10.0.0.0/8`, `fd00::/8`; host bits are ignored).
 * Blank entries are skipped; anything else throws an Error naming the entry and the accepted forms.
 */
export function parseAllowedTargets(list: readonly string[]): AllowedTargets {
  const hosts = new Set<string>();
  const ranges: AddressRange[] = [];
  for (const raw of list) {
    const entry = raw.trim();
    if (entry === '') continue;
    const slash = entry.lastIndexOf('/');
    if (slash >= 0) {
      const address = parseAddress(stripBrackets(entry.slice(0, slash)));
      const prefixText = entry.slice(slash + 1);
      if (address === undefined || !/^\d{1,3}$/.test(prefixText)) throw badEntry(entry);
      const prefix = Number(prefixText);
      if (prefix > Number(bits(address.family)))
        throw badEntry(entry, `prefix longer than ${bits(address.family)}`);
      ranges.push({
        family: address.family,
        network: address.value & maskOf(address.family, prefix),
        prefix,
      });
      continue;
    }
    const address = parseAddress(stripBrackets(entry));
    if (address !== undefined) {
      ranges.push({ family: address.family, network: address.value, prefix: Number(bits(address.family)) });
      continue;
    }
    const host = parseHostName(entry);
    if (host === undefined) throw badEntry(entry);
    hosts.add(host);
  }
  return { hosts, ranges };
}
