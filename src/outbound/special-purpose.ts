/**
 * The addresses outbound calls refuse by default, as data (src/outbound/addresses.ts judges them).
 */

/** A block the outbound calls refuse, and the reason a refusal names. */
export interface SpecialBlock {
  readonly cidr: string;
  /** Short, for messages: `loopback`, `private`, `documentation`… */
  readonly reason: string;
  /** Where it is defined. */
  readonly rfc: string;
}

/**
 * The IANA IPv4 Special-Purpose Address Registry, every entry
 * (https://www.iana.org/assignments/iana-ipv4-special-registry/, RFC 6890; checked against its
 * version of 2025). All are refused, also the few the registry marks globally reachable (the PCP
 * and TURN anycast addresses, AS112, AMT): anycast and infrastructure services that no connector
 * calls. Where blocks nest, the most specific one names the reason.
 */
export const SPECIAL_PURPOSE_V4: readonly SpecialBlock[] = [
  { cidr: '0.0.0.0/8', reason: '"this network"', rfc: 'RFC 791' },
  { cidr: '0.0.0.0/32', reason: '"this host on this network"', rfc: 'RFC 1122' },
  { cidr: '10.0.0.0/8', reason: 'private', rfc: 'RFC 1918' },
  { cidr: '100.64.0.0/10', reason: 'shared (CGNAT)', rfc: 'RFC 6598' },
  { cidr: '127.0.0.0/8', reason: 'loopback', rfc: 'RFC 1122' },
  { cidr: '169.254.0.0/16', reason: 'link-local (cloud metadata)', rfc: 'RFC 3927' },
  { cidr: '172.16.0.0/12', reason: 'private', rfc: 'RFC 1918' },
  { cidr: '192.0.0.0/24', reason: 'IETF protocol assignments', rfc: 'RFC 6890' },
  { cidr: '192.0.0.0/29', reason: 'IPv4 service continuity (DS-Lite)', rfc: 'RFC 7335' },
  { cidr: '192.0.0.8/32', reason: 'IPv4 dummy address', rfc: 'RFC 7600' },
  { cidr: '192.0.0.9/32', reason: 'Port Control Protocol anycast', rfc: 'RFC 7723' },
  { cidr: '192.0.0.10/32', reason: 'TURN anycast', rfc: 'RFC 8155' },
  { cidr: '192.0.0.170/32', reason: 'NAT64/DNS64 discovery', rfc: 'RFC 8880' },
  { cidr: '192.0.0.171/32', reason: 'NAT64/DNS64 discovery', rfc: 'RFC 8880' },
  { cidr: '192.0.2.0/24', reason: 'documentation', rfc: 'RFC 5737' },
  { cidr: '192.31.196.0/24', reason: 'AS112 (DNS sink)', rfc: 'RFC 7535' },
  { cidr: '192.52.193.0/24', reason: 'AMT (multicast tunnelling)', rfc: 'RFC 7450' },
  { cidr: '192.88.99.0/24', reason: '6to4 relay anycast (deprecated)', rfc: 'RFC 7526' },
  { cidr: '192.88.99.2/32', reason: '6a44 relay anycast', rfc: 'RFC 6751' },
  { cidr: '192.168.0.0/16', reason: 'private', rfc: 'RFC 1918' },
  { cidr: '192.175.48.0/24', reason: 'AS112 (DNS sink)', rfc: 'RFC 7534' },
  { cidr: '198.18.0.0/15', reason: 'benchmarking', rfc: 'RFC 2544' },
  { cidr: '198.51.100.0/24', reason: 'documentation', rfc: 'RFC 5737' },
  { cidr: '203.0.113.0/24', reason: 'documentation', rfc: 'RFC 5737' },
  { cidr: '240.0.0.0/4', reason: 'reserved', rfc: 'RFC 1112' },
  { cidr: '255.255.255.255/32', reason: 'broadcast', rfc: 'RFC 8190' },
];

/**
 * The IANA IPv6 Special-Purpose Address Registry, every entry
 * (https://www.iana.org/assignments/iana-ipv6-special-registry/, RFC 6890; checked against its
 * version of 2025). All are refused, also those the registry marks globally reachable (anycast,
 * AS112, AMT, ORCHIDv2 identifiers, drone DETs), except the three that carry an IPv4 address
 * (`embedsIPv4`): those are judged by it.
 */
export const SPECIAL_PURPOSE_V6: readonly (SpecialBlock & { readonly embedsIPv4?: true })[] = [
  { cidr: '::1/128', reason: 'loopback', rfc: 'RFC 4291' },
  { cidr: '::/128', reason: 'unspecified', rfc: 'RFC 4291' },
  { cidr: '::ffff:0:0/96', reason: 'IPv4-mapped', rfc: 'RFC 4291', embedsIPv4: true },
  { cidr: '64:ff9b::/96', reason: 'NAT64', rfc: 'RFC 6052', embedsIPv4: true },
  { cidr: '64:ff9b:1::/48', reason: 'local-use NAT64', rfc: 'RFC 8215' },
  { cidr: '100::/64', reason: 'discard-only', rfc: 'RFC 6666' },
  { cidr: '100:0:0:1::/64', reason: 'dummy prefix', rfc: 'RFC 9780' },
  { cidr: '2001::/23', reason: 'IETF protocol assignments', rfc: 'RFC 2928' },
  { cidr: '2001::/32', reason: 'Teredo', rfc: 'RFC 4380' },
  { cidr: '2001:1::1/128', reason: 'Port Control Protocol anycast', rfc: 'RFC 7723' },
  { cidr: '2001:1::2/128', reason: 'TURN anycast', rfc: 'RFC 8155' },
  { cidr: '2001:1::3/128', reason: 'DNS-SD service registration anycast', rfc: 'RFC 9665' },
  { cidr: '2001:2::/48', reason: 'benchmarking', rfc: 'RFC 5180' },
  { cidr: '2001:3::/32', reason: 'AMT (multicast tunnelling)', rfc: 'RFC 7450' },
  { cidr: '2001:4:112::/48', reason: 'AS112 (DNS sink)', rfc: 'RFC 7535' },
  { cidr: '2001:10::/28', reason: 'ORCHID (deprecated)', rfc: 'RFC 4843' },
  { cidr: '2001:20::/28', reason: 'ORCHIDv2 (identifiers, not routable)', rfc: 'RFC 7343' },
  { cidr: '2001:30::/28', reason: 'drone remote ID (DET)', rfc: 'RFC 9374' },
  { cidr: '2001:db8::/32', reason: 'documentation', rfc: 'RFC 3849' },
  { cidr: '2002::/16', reason: '6to4', rfc: 'RFC 3056', embedsIPv4: true },
  { cidr: '2620:4f:8000::/48', reason: 'AS112 (DNS sink)', rfc: 'RFC 7534' },
  { cidr: '3fff::/20', reason: 'documentation', rfc: 'RFC 9637' },
  { cidr: '5f00::/16', reason: 'segment routing (SRv6) SIDs', rfc: 'RFC 9602' },
  { cidr: 'fc00::/7', reason: 'unique-local (private, AWS metadata)', rfc: 'RFC 4193' },
  { cidr: 'fe80::/10', reason: 'link-local', rfc: 'RFC 4291' },
];

/** Refused beyond the registries: multicast, and IPv6 that is not (or no longer) unicast. */
export const OTHER_REFUSED_V4: readonly SpecialBlock[] = [
  // The IPv4 Multicast Address Space Registry.
  { cidr: '224.0.0.0/4', reason: 'multicast', rfc: 'RFC 5771' },
];
export const OTHER_REFUSED_V6: readonly SpecialBlock[] = [
  { cidr: '::/96', reason: 'IPv4-compatible (deprecated)', rfc: 'RFC 4291' },
  { cidr: '::/8', reason: 'reserved', rfc: 'RFC 4291' },
  { cidr: 'fec0::/10', reason: 'site-local (deprecated)', rfc: 'RFC 3879' },
  { cidr: 'ff00::/8', reason: 'multicast', rfc: 'RFC 4291' },
];
