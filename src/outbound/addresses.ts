import net from 'node:net';
import type { AllowedTargets } from './allowed-targets.js';
import {
  OTHER_REFUSED_V4,
  OTHER_REFUSED_V6,
  SPECIAL_PURPOSE_V4,
  SPECIAL_PURPOSE_V6,
  type SpecialBlock,
} from './special-purpose.js';

/**
 * Which addresses an outbound call may reach.
 *
 * Refused by default: every block of the IANA special-purpose address registries (see
 * SPECIAL_PURPOSE_V4 and _V6 in special-purpose.ts), multicast, and IPv6 outside global unicast
 * 2000::/3. IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96,
 * 6to4 2002::/16) are judged by the embedded IPv4 address.
 *
 * Operators make exceptions with host names, addresses and CIDRs, each optionally with a port
 * (PLUGBOARD_ALLOWED_TARGETS, read by allowed-targets.ts).
 */

export type IpFamily = 4 | 6;

export interface AddressRange {
  readonly family: IpFamily;
  /** The network address, host bits cleared. */
  readonly network: bigint;
  readonly prefix: number;
}

export interface ParsedAddress {
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

export function parseAddress(text: string): ParsedAddress | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIPv6(text);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

export function bits(family: IpFamily): bigint {
  return family === 4 ? 32n : 128n;
}

export function maskOf(family: IpFamily, prefix: number): bigint {
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

const NOT_GLOBAL_UNICAST = 'not global unicast (reserved by the IETF)';

interface Refusal {
  readonly range: AddressRange;
  readonly reason: string;
}

/** Most specific first: the first range that contains an address names its reason. */
function refusals(blocks: readonly SpecialBlock[]): Refusal[] {
  return blocks
    .map((block) => ({ range: range(block.cidr), reason: block.reason }))
    .sort((a, b) => b.range.prefix - a.range.prefix);
}

interface Ranges {
  readonly refusedV4: readonly Refusal[];
  readonly refusedV6: readonly Refusal[];
  /** IANA's IPv6 Address Space registry: global unicast is 2000::/3, the rest is reserved or special. */
  readonly globalUnicastV6: AddressRange;
  /** IPv6 ranges whose last 32 bits are an IPv4 address that decides. */
  readonly embeddingV4InLowBits: readonly AddressRange[];
  readonly sixToFour: AddressRange;
}

let built: Ranges | undefined;

/**
 * The built-in ranges, parsed at the first outbound call rather than when the module loads: the
 * first `net.isIPv6` compiles Node's IPv6 pattern, tens of milliseconds of a server's start-up
 * that no request before the first check or delivery needs.
 */
function ranges(): Ranges {
  built ??= {
    refusedV4: refusals([...SPECIAL_PURPOSE_V4, ...OTHER_REFUSED_V4]),
    refusedV6: refusals([...SPECIAL_PURPOSE_V6.filter((block) => !block.embedsIPv4), ...OTHER_REFUSED_V6]),
    globalUnicastV6: range('2000::/3'),
    embeddingV4InLowBits: [range('::ffff:0:0/96'), range('64:ff9b::/96')],
    sixToFour: range('2002::/16'),
  };
  return built;
}

/** The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64, 6to4), if any. */
function embeddedIPv4(address: ParsedAddress): ParsedAddress | undefined {
  if (address.family !== 6) return undefined;
  const { embeddingV4InLowBits, sixToFour } = ranges();
  if (embeddingV4InLowBits.some((r) => contains(r, address))) {
    return { family: 4, value: address.value & 0xffffffffn };
  }
  if (contains(sixToFour, address)) return { family: 4, value: (address.value >> 80n) & 0xffffffffn };
  return undefined;
}

function reasonFor(address: ParsedAddress): string | undefined {
  const embedded = embeddedIPv4(address);
  if (embedded !== undefined) {
    const inner = reasonFor(embedded);
    return inner === undefined ? undefined : `${inner}, as IPv4 inside IPv6`;
  }
  const { refusedV4, refusedV6, globalUnicastV6 } = ranges();
  const list = address.family === 4 ? refusedV4 : refusedV6;
  const reason = list.find((r) => contains(r.range, address))?.reason;
  if (reason === undefined && address.family === 6 && !contains(globalUnicastV6, address)) {
    return NOT_GLOBAL_UNICAST;
  }
  return reason;
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
 * True when a connection to `address` on `port` is acceptable: it is not in a refused range, or an
 * allowed CIDR covers it (or the IPv4 address it embeds), or `hostname` (the name it was resolved
 * from) is allowed; an entry with a port allows that port only.
 */
export function isAllowedAddress(
  address: string,
  family: IpFamily,
  hostname: string | undefined,
  allow: AllowedTargets,
  port: number,
): boolean {
  const onPort = (entry: { readonly port?: number }) => entry.port === undefined || entry.port === port;
  if (hostname !== undefined) {
    const name = normalizeHostName(hostname);
    if (allow.hosts.some((host) => host.name === name && onPort(host))) return true;
  }
  const parsed = parseAddress(address);
  if (parsed === undefined || parsed.family !== family) return false;
  const embedded = embeddedIPv4(parsed);
  const covered = (a: ParsedAddress) => allow.ranges.some((r) => contains(r, a) && onPort(r));
  if (covered(parsed) || (embedded !== undefined && covered(embedded))) return true;
  return reasonFor(parsed) === undefined;
}
