import { describe, expect, it } from 'vitest';
import {
  isAllowedAddress,
  NO_ALLOWED_TARGETS,
  normalizeHostName,
  parseAllowedTargets,
  parseIPv4,
  parseIPv6,
  refusalReason,
} from './addresses.js';

const family = (address: string) => (address.includes(':') ? 6 : 4);
const allowedByDefault = (address: string) =>
  isAllowedAddress(address, family(address), undefined, NO_ALLOWED_TARGETS);

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
    ['fbff::1'],
  ])('accepts %s', (address) => {
    expect(refusalReason(address)).toBeUndefined();
    expect(allowedByDefault(address)).toBe(true);
  });

  it('refuses text that is not an address, and a family mismatch', () => {
    expect(allowedByDefault('localhost')).toBe(false);
    expect(isAllowedAddress('8.8.8.8', 6, undefined, NO_ALLOWED_TARGETS)).toBe(false);
  });

  it('names the reason', () => {
    expect(refusalReason('127.0.0.1')).toBe('loopback');
    expect(refusalReason('169.254.169.254')).toMatch(/metadata/);
    expect(refusalReason('::ffff:127.0.0.1')).toBe('loopback, as IPv4 inside IPv6');
    expect(refusalReason('fd00:ec2::254')).toMatch(/unique-local/);
    expect(refusalReason('255.255.255.255')).toBe('broadcast');
    expect(refusalReason('255.255.255.254')).toBe('reserved');
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
    expect([...allow.hosts].sort()).toEqual(['grafana.internal', 'jira.corp.local', 'xn--bcher-kva.example']);
    expect(allow.ranges.map((r) => `${r.family}/${r.prefix}`)).toEqual([
      '4/8',
      '4/32',
      '6/8',
      '6/128',
      '4/24',
    ]);
    expect(isAllowedAddress('192.168.1.5', 4, undefined, allow)).toBe(true);
    expect(isAllowedAddress('192.168.2.5', 4, undefined, allow)).toBe(false);
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
    ['jira.corp.local:8080'],
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
    expect(isAllowedAddress('127.0.0.1', 4, undefined, allow)).toBe(true);
    expect(isAllowedAddress('127.9.9.9', 4, undefined, allow)).toBe(true);
    expect(isAllowedAddress('::ffff:127.0.0.1', 6, undefined, allow)).toBe(true);
    expect(isAllowedAddress('fd00:ec2::254', 6, undefined, allow)).toBe(true);
    expect(isAllowedAddress('10.0.0.1', 4, undefined, allow)).toBe(false);
    expect(isAllowedAddress('::1', 6, undefined, allow)).toBe(false);
    expect(isAllowedAddress('169.254.169.254', 4, undefined, allow)).toBe(false);
  });

  it('allows any address of an allowed host name, and only of it', () => {
    expect(isAllowedAddress('10.1.2.3', 4, 'jira.corp.local', allow)).toBe(true);
    expect(isAllowedAddress('10.1.2.3', 4, 'JIRA.corp.local.', allow)).toBe(true);
    expect(isAllowedAddress('10.1.2.3', 4, 'jira.corp.local.evil.com', allow)).toBe(false);
    expect(isAllowedAddress('10.1.2.3', 4, 'evil.com', allow)).toBe(false);
    expect(isAllowedAddress('8.8.8.8', 4, 'evil.com', allow)).toBe(true);
  });
});
