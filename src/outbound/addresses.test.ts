import { describe, expect, it } from 'vitest';
import { isAllowedAddress, normalizeHostName, parseIPv4, parseIPv6, refusalReason } from './addresses.js';
import { NO_ALLOWED_TARGETS, parseAllowedTargets } from './allowed-targets.js';
import { SPECIAL_PURPOSE_V4, SPECIAL_PURPOSE_V6 } from './special-purpose.js';

const family = (address: string) => (address.includes(':') ? 6 : 4);
const allowedByDefault = (address: string) =>
  isAllowedAddress(address, family(address), undefined, NO_ALLOWED_TARGETS, 443);

describe('parsing', () => {
  it('parses IPv4 strictly', () => {
    expect(parseIPv4('127.0.0.1')).toBe(0x7f000001n);
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffffn);
    for (const bad of [
      '127.1',
      '0177.0.0.1',
      '2130706433',
      '0x7f000001',
      '127.000.000.001',
      '1.2.3.4.5',
      '',
    ]) {
      expect(parseIPv4(bad)).toBeUndefined();
    }
  });

  it('parses every IPv6 spelling', () => {
    expect(parseIPv6('::')).toBe(0n);
    expect(parseIPv6('::1')).toBe(1n);
    expect(parseIPv6('::ffff:127.0.0.1')).toBe(0xffff7f000001n);
    expect(parseIPv6('0:0:0:0:0:ffff:7f00:1')).toBe(0xffff7f000001n);
    expect(parseIPv6('0:0:0:0:0:FFFF:127.0.0.1')).toBe(0xffff7f000001n);
    expect(parseIPv6('fe80::1%eth0')).toBe((0xfe80n << 112n) | 1n);
    expect(parseIPv6('1:2:3:4:5:6:7:8')).toBe(0x00010002000300040005000600070008n);
    expect(parseIPv6('1::8')).toBe((1n << 112n) | 8n);
    for (const bad of ['1:2:3:4:5:6:7:8:9', ':::', '1::2::3', '::g', '127.0.0.1', '']) {
      expect(parseIPv6(bad)).toBeUndefined();
    }
  });

  it('normalises host names', () => {
    expect(normalizeHostName('LOCALHOST.')).toBe('localhost');
    expect(normalizeHostName('Jira.Corp.Local')).toBe('jira.corp.local');
  });
});

describe('refused ranges', () => {
  it.each([
    ['0.0.0.0'],
    ['0.255.255.255'],
    ['10.0.0.1'],
    ['10.255.255.255'],
    ['100.64.0.1'],
    ['100.127.255.255'],
    ['127.0.0.1'],
    ['127.255.255.254'],
    ['169.254.169.254'],
    ['169.254.0.1'],
    ['172.16.0.1'],
    ['172.31.255.255'],
    ['192.0.0.8'],
    ['192.0.2.1'],
    ['192.168.1.1'],
    ['198.18.0.1'],
    ['198.19.255.255'],
    ['198.51.100.7'],
    ['203.0.113.9'],
    ['224.0.0.1'],
    ['239.255.255.250'],
    ['240.0.0.1'],
    ['255.255.255.255'],
    ['::'],
    ['::1'],
    ['::ffff:127.0.0.1'],
    ['::ffff:7f00:1'],
    ['::ffff:a9fe:a9fe'],
    ['::ffff:169.254.169.254'],
    ['::ffff:10.0.0.1'],
    ['::ffff:0.0.0.0'],
    ['64:ff9b::7f00:1'],
    ['64:ff9b::169.254.169.254'],
    ['64:ff9b:1::1'],
    ['::7f00:1'],
    ['::8.8.8.8'],
    ['::ffff:0:7f00:1'],
    ['2002:7f00:1::1'],
    ['2002:a9fe:a9fe::'],
    ['fc00::1'],
    ['fd00::1'],
    ['fd00:ec2::254'],
    ['fe80::1'],
    ['fe80::1%lo'],
    ['febf:ffff::1'],
    ['ff02::1'],
    ['2001:db8::1'],
    ['100::1'],
    ['fbff::1'],
    ['4000::1'],
  ])('refuses %s', (address) => {
    expect(refusalReason(address)).toBeDefined();
    expect(allowedByDefault(address)).toBe(false);
  });

  it.each([
    ['8.8.8.8'],
    ['1.1.1.1'],
    ['9.255.255.255'],
    ['11.0.0.0'],
    ['100.63.255.255'],
    ['100.128.0.0'],
    ['126.255.255.255'],
    ['128.0.0.1'],
    ['169.253.255.255'],
    ['169.255.0.0'],
    ['172.15.255.255'],
    ['172.32.0.0'],
    ['192.0.1.1'],
    ['192.167.255.255'],
    ['192.169.0.0'],
    ['198.17.255.255'],
    ['198.20.0.0'],
    ['223.255.255.255'],
    ['2606:4700:4700::1111'],
    ['2a00:1450:4001:80b::200e'],
    ['::ffff:8.8.8.8'],
    ['::ffff:808:808'],
    ['64:ff9b::8.8.8.8'],
    ['2002:808:808::1'],
    ['2001:200::1'],
    ['2001:200:ffff::1'],
    ['3fff:1000::1'],
    ['2000::1'],
    ['3ffe:ffff::1'],
  ])('accepts %s', (address) => {
    expect(refusalReason(address)).toBeUndefined();
    expect(allowedByDefault(address)).toBe(true);
  });

  it('refuses text that is not an address, and a family mismatch', () => {
    expect(allowedByDefault('localhost')).toBe(false);
    expect(isAllowedAddress('8.8.8.8', 6, undefined, NO_ALLOWED_TARGETS, 443)).toBe(false);
  });

  it('names the reason', () => {
    expect(refusalReason('127.0.0.1')).toBe('loopback');
    expect(refusalReason('169.254.169.254')).toMatch(/metadata/);
    expect(refusalReason('::ffff:127.0.0.1')).toBe('loopback, as IPv4 inside IPv6');
    expect(refusalReason('fd00:ec2::254')).toMatch(/unique-local/);
    expect(refusalReason('255.255.255.255')).toBe('broadcast');
    expect(refusalReason('255.255.255.254')).toBe('reserved');
    expect(refusalReason('192.0.0.9')).toBe('Port Control Protocol anycast');
    expect(refusalReason('fbff::1')).toBe('not global unicast (reserved by the IETF)');
  });
});

/** The first, a middle and the last address of a CIDR, as text. */
function samples(cidr: string): string[] {
  const [text = '', prefixText = ''] = cidr.split('/');
  const v6 = text.includes(':');
  const width = v6 ? 128n : 32n;
  const value = v6 ? parseIPv6(text) : parseIPv4(text);
  if (value === undefined) throw new Error(`not a CIDR: ${cidr}`);
  const size = 1n << (width - BigInt(prefixText));
  const format = (n: bigint) =>
    v6
      ? (n.toString(16).padStart(32, '0').match(/.{4}/g) ?? []).join(':')
      : [24n, 16n, 8n, 0n].map((shift) => String((n >> shift) & 255n)).join('.');
  return [format(value), format(value + size / 2n), format(value + size - 1n)];
}

describe('the IANA special-purpose address registries', () => {
  it('hold the blocks the review found missing', () => {
    const listed = [...SPECIAL_PURPOSE_V4, ...SPECIAL_PURPOSE_V6].map((block) => block.cidr);
    for (const cidr of [
      '192.88.99.0/24',
      '2001::/32',
      '2001:2::/48',
      '2001:10::/28',
      '2001:20::/28',
      '3fff::/20',
      '5f00::/16',
    ]) {
      expect(listed).toContain(cidr);
    }
  });

  it.each(
    [...SPECIAL_PURPOSE_V4, ...SPECIAL_PURPOSE_V6.filter((block) => !('embedsIPv4' in block))].map(
      (block) => [block.cidr, block.reason, block.rfc] as const,
    ),
  )('refuses every address of %s (%s, %s)', (cidr) => {
    for (const address of samples(cidr)) {
      expect(refusalReason(address), address).toBeDefined();
      expect(allowedByDefault(address), address).toBe(false);
    }
  });

  it.each([
    ['::ffff:0:0/96', '::ffff:8.8.8.8', '::ffff:10.1.2.3'],
    ['64:ff9b::/96', '64:ff9b::8.8.8.8', '64:ff9b::192.88.99.1'],
    ['2002::/16', '2002:808:808::', '2002:c058:6301::'],
  ])('judges %s by the IPv4 address inside', (cidr, publicOne, privateOne) => {
    expect(SPECIAL_PURPOSE_V6.find((block) => block.cidr === cidr)?.embedsIPv4).toBe(true);
    expect(allowedByDefault(publicOne)).toBe(true);
    expect(allowedByDefault(privateOne)).toBe(false);
  });
});

describe('parseAllowedTargets', () => {
  it('reads host names, addresses and CIDRs', () => {
    const allow = parseAllowedTargets([
      'Jira.Corp.Local',
      'grafana.internal.',
      'bücher.example',
      ' 10.0.0.0/8 ',
      '127.0.0.1',
      'fd00::/8',
      '[::1]',
      '192.168.1.77/24',
      '',
    ]);
    expect(allow.hosts.map((host) => host.name).sort()).toEqual([
      'grafana.internal',
      'jira.corp.local',
      'xn--bcher-kva.example',
    ]);
    expect(allow.ranges.map((r) => `${r.family}/${r.prefix}`)).toEqual([
      '4/8',
      '4/32',
      '6/8',
      '6/128',
      '4/24',
    ]);
    expect(isAllowedAddress('192.168.1.5', 4, undefined, allow, 443)).toBe(true);
    expect(isAllowedAddress('192.168.2.5', 4, undefined, allow, 443)).toBe(false);
  });

  it.each([
    ['10.0.0.0/33'],
    ['::/129'],
    ['10.0.0.0/'],
    ['10.0.0.0/8/8'],
    ['10.0.0.0/x'],
    ['/8'],
    ['*.corp.local'],
    ['http://jira.corp.local'],
    ['jira.corp.local:0'],
    ['jira.corp.local:65536'],
    ['jira.corp.local:'],
    ['jira.corp.local:http'],
    ['10.0.0.0/8:99999'],
    ['fd00::/8:443'],
    ['[fd00::1'],
    ['fd00::1]:443'],
    ['[jira.corp.local]:443'],
    ['[fd00::1]:'],
    ['[fd00::1]x'],
    ['user@host'],
    ['bad host'],
    ['-bad.example'],
    ['127.1'],
    ['0177.0.0.1'],
    ['2130706433'],
    ['0x7f000001'],
    ['10.0.0.256'],
    ['a..b'],
  ])('rejects %j with a message naming it and the accepted forms', (entry) => {
    expect(() => parseAllowedTargets([entry])).toThrow(`"${entry}"`);
    expect(() => parseAllowedTargets([entry])).toThrow(/host name .* IP address .* CIDR/);
  });
});

describe('isAllowedAddress with an allowlist', () => {
  const allow = parseAllowedTargets(['127.0.0.0/8', 'jira.corp.local', 'fd00:ec2::/32']);

  it('allows addresses in an allowed CIDR, including the IPv4 inside IPv6 forms', () => {
    expect(isAllowedAddress('127.0.0.1', 4, undefined, allow, 443)).toBe(true);
    expect(isAllowedAddress('127.9.9.9', 4, undefined, allow, 443)).toBe(true);
    expect(isAllowedAddress('::ffff:127.0.0.1', 6, undefined, allow, 443)).toBe(true);
    expect(isAllowedAddress('fd00:ec2::254', 6, undefined, allow, 443)).toBe(true);
    expect(isAllowedAddress('10.0.0.1', 4, undefined, allow, 443)).toBe(false);
    expect(isAllowedAddress('::1', 6, undefined, allow, 443)).toBe(false);
    expect(isAllowedAddress('169.254.169.254', 4, undefined, allow, 443)).toBe(false);
  });

  it('allows any address of an allowed host name, and only of it', () => {
    expect(isAllowedAddress('10.1.2.3', 4, 'jira.corp.local', allow, 443)).toBe(true);
    expect(isAllowedAddress('10.1.2.3', 4, 'JIRA.corp.local.', allow, 443)).toBe(true);
    expect(isAllowedAddress('10.1.2.3', 4, 'jira.corp.local.evil.com', allow, 443)).toBe(false);
    expect(isAllowedAddress('10.1.2.3', 4, 'evil.com', allow, 443)).toBe(false);
    expect(isAllowedAddress('8.8.8.8', 4, 'evil.com', allow, 443)).toBe(true);
  });
});

describe('allowed targets with a port', () => {
  const allow = parseAllowedTargets([
    'jira.corp.local:8443',
    'grafana.corp.local',
    '10.1.2.3:8080',
    '10.20.0.0/16:443',
    '[fd00::1]:8443',
    '[fd00:1::/32]:443',
    '[fd00:2::]/32:80',
    '[fd00::9]',
  ]);

  it('reads host:port, address:port, cidr:port and bracketed IPv6 with a port', () => {
    expect(allow.hosts).toEqual([{ name: 'jira.corp.local', port: 8443 }, { name: 'grafana.corp.local' }]);
    expect(allow.ranges.map((r) => `${r.family}/${r.prefix}:${r.port ?? '*'}`)).toEqual([
      '4/32:8080',
      '4/16:443',
      '6/128:8443',
      '6/32:443',
      '6/32:80',
      '6/128:*',
    ]);
  });

  it.each([
    ['10.1.2.3', 4, 'jira.corp.local', 8443, true],
    ['10.1.2.3', 4, 'jira.corp.local', 443, false],
    ['10.9.9.9', 4, 'grafana.corp.local', 3000, true],
    ['10.1.2.3', 4, undefined, 8080, true],
    ['10.1.2.3', 4, undefined, 8081, false],
    ['::ffff:10.1.2.3', 6, undefined, 8080, true],
    ['10.20.7.7', 4, undefined, 443, true],
    ['10.20.7.7', 4, undefined, 80, false],
    ['fd00::1', 6, undefined, 8443, true],
    ['fd00::1', 6, undefined, 443, false],
    ['fd00:1::5', 6, undefined, 443, true],
    ['fd00:1::5', 6, undefined, 8443, false],
    ['fd00:2::5', 6, undefined, 80, true],
    ['fd00::9', 6, undefined, 1, true],
    ['8.8.8.8', 4, 'evil.com', 25, true],
  ] as const)('%s (from %s) on port %i: allowed %s', (address, family, host, port, expected) => {
    expect(isAllowedAddress(address, family, host, allow, port)).toBe(expected);
  });
});
