import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseAllowedTargets } from './allowed-targets.js';
import { Call, type CheckedAddresses, ConnectionPools, classify, poolKey, portOf } from './exchange.js';
import { OutboundError } from './types.js';

// The pure parts of one exchange: the port a URL connects to, what a Node error becomes, and the
// names of pooled connections. What happens on the wire is in exchange-wire.test.ts.

const LIMIT = 'within 5000 ms';
const withCode = (code: unknown, message = 'node says more: /path?token=SECRET') =>
  Object.assign(new Error(message), { code });

describe('portOf', () => {
  it.each([
    ['http://example.com/', 80],
    ['https://example.com/', 443],
    ['http://example.com:443/', 443],
    ['https://example.com:80/', 80],
    ['https://example.com:8443/', 8443],
    ['http://example.com:1/', 1],
    // The URL parser drops a scheme's own port: it is still that port.
    ['https://example.com:443/', 443],
  ])('%s connects to port %i', (url, port) => {
    expect(portOf(new URL(url))).toBe(port);
  });
});

describe('classify: what a Node error becomes', () => {
  const url = new URL('http://svc.example.test:8080/path?token=SECRET');
  const secure = new URL('https://svc.example.test/path');

  it.each(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME', 'ENODATA'])(
    '%s is dns: the host name could not be resolved',
    (code) => {
      const error = classify(withCode(code), url, LIMIT);
      expect(error).toMatchObject({ kind: 'dns', message: `could not resolve svc.example.test (${code})` });
    },
  );

  it.each([
    ['ECONNREFUSED', 'connection refused'],
    ['ECONNRESET', 'connection closed without a complete answer'],
    ['EPIPE', 'connection closed while sending'],
    ['ECONNABORTED', 'connection aborted'],
    ['EHOSTUNREACH', 'host unreachable'],
    ['ENETUNREACH', 'network unreachable'],
    ['EHOSTDOWN', 'host down'],
    ['ENETDOWN', 'network down'],
    ['EADDRNOTAVAIL', 'address not available'],
  ])('%s is connect: %s', (code, said) => {
    const error = classify(withCode(code), url, LIMIT);
    expect(error).toMatchObject({
      kind: 'connect',
      message: `could not talk to svc.example.test:8080: ${said} (${code})`,
    });
  });

  it('a hang-up before any answer is connect, whatever code Node gives it', () => {
    for (const code of ['ECONNRESET', undefined]) {
      expect(classify(withCode(code, 'socket hang up'), url, LIMIT)).toMatchObject({
        kind: 'connect',
        message: 'svc.example.test:8080 hung up without answering',
      });
    }
    // Only Node's own words: another message with the same code is a reset.
    expect(classify(withCode('ECONNRESET', 'socket hang up!'), url, LIMIT).message).toBe(
      'could not talk to svc.example.test:8080: connection closed without a complete answer (ECONNRESET)',
    );
  });

  it.each(['ETIMEDOUT', 'ERR_SOCKET_CONNECTION_TIMEOUT'])('%s is timeout, naming the limit', (code) => {
    expect(classify(withCode(code), url, LIMIT)).toMatchObject({
      kind: 'timeout',
      message: 'no complete answer from svc.example.test:8080 within 5000 ms',
    });
  });

  it('an HTTP parser error (HPE_…) is protocol: a malformed answer', () => {
    expect(classify(withCode('HPE_INVALID_CONSTANT'), url, LIMIT)).toMatchObject({
      kind: 'protocol',
      message: 'malformed HTTP answer from svc.example.test:8080 (HPE_INVALID_CONSTANT)',
    });
    // The prefix, not the word anywhere in the code.
    expect(classify(withCode('X_HPE_'), url, LIMIT).message).toBe(
      'HTTP failure talking to svc.example.test:8080 (X_HPE_)',
    );
  });

  it('anything else is protocol: a TLS or HTTP failure for https, an HTTP failure for http', () => {
    expect(classify(withCode('ERR_TLS_CERT_ALTNAME_INVALID'), secure, LIMIT)).toMatchObject({
      kind: 'protocol',
      message: 'TLS or HTTP failure talking to svc.example.test (ERR_TLS_CERT_ALTNAME_INVALID)',
    });
    expect(classify(withCode('ERR_SOMETHING'), url, LIMIT)).toMatchObject({
      kind: 'protocol',
      message: 'HTTP failure talking to svc.example.test:8080 (ERR_SOMETHING)',
    });
  });

  it('an error without a string code is protocol, with no code in the message', () => {
    for (const error of [
      new Error('boom'),
      withCode(42),
      withCode(undefined),
      { code: null },
      'boom',
      null,
      7,
    ]) {
      const outcome = classify(error, url, LIMIT);
      expect(outcome).toMatchObject({
        kind: 'protocol',
        message: 'HTTP failure talking to svc.example.test:8080',
      });
    }
    expect(classify(null, secure, LIMIT).message).toBe('TLS or HTTP failure talking to svc.example.test');
  });

  it("never repeats Node's message, which may quote the path or a header", () => {
    for (const code of ['ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'HPE_X', 'EPROTO', undefined]) {
      expect(classify(withCode(code), url, LIMIT).message).not.toMatch(/SECRET|node says/);
    }
  });

  it('an OutboundError passes unchanged', () => {
    const own = new OutboundError('too_large', 'the answer is too large');
    expect(classify(own, url, LIMIT)).toBe(own);
  });
});

describe('connection pools: the keys of their connections', () => {
  const one: CheckedAddresses = [{ address: '127.0.0.1', family: 4 }];
  const url = new URL('https://svc.example.test/hook');

  it('a connection is keyed by its pool, its checked addresses (in any order) and its origin', () => {
    const key = poolKey('acct1/con_a', url, one);
    expect(key).toBe('["acct1/con_a",["127.0.0.1"],"https:","svc.example.test"]');
    expect(poolKey('acct2/con_b', url, one)).not.toBe(key);
    expect(poolKey('acct1/con_a', url, [{ address: '127.0.0.2', family: 4 }])).not.toBe(key);
    expect(poolKey('acct1/con_a', new URL('http://svc.example.test/hook'), one)).not.toBe(key);
    expect(poolKey('acct1/con_a', new URL('https://svc.example.test:8443/hook'), one)).not.toBe(key);
    expect(poolKey('acct1/con_a', new URL('https://other.example.test/hook'), one)).not.toBe(key);
    const two: CheckedAddresses = [
      { address: '127.0.0.2', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    const reversed: CheckedAddresses = [
      { address: '127.0.0.1', family: 4 },
      { address: '127.0.0.2', family: 4 },
    ];
    expect(poolKey('p', url, two)).toBe(poolKey('p', url, reversed));
  });

  it('an exchange takes a connection of its key with none under way, else a new one', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end('ok'), 20));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const target = new URL(`http://127.0.0.1:${port}/`);
    const pools = new ConnectionPools();
    try {
      const call = new Call(parseAllowedTargets(['127.0.0.1']), 2000, 1000);
      const hop = { url: target, method: 'GET' as const, headers: {}, body: undefined };
      const pool = { pools, name: 'p' };
      await call.send(hop, one, pool);
      expect(pools.loaded).toBe(true);
      expect(pools.sizes).toEqual([1]);
      // Three at once: the free connection and two new ones.
      await Promise.all([call.send(hop, one, pool), call.send(hop, one, pool), call.send(hop, one, pool)]);
      expect(pools.sizes).toEqual([3]);
      // One after another: the first connection each time.
      for (let i = 0; i < 3; i++) await call.send(hop, one, pool);
      expect(pools.sizes).toEqual([3]);
      await call.send(hop, one, { pools, name: 'q' });
      expect(pools.sizes).toEqual([3, 1]);
    } finally {
      await pools.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('Call.send', () => {
  it('a request Node will not build is a protocol failure, not a thrown Node error', async () => {
    const call = new Call(parseAllowedTargets(['127.0.0.1']), 2000, 1000);
    const url = new URL('http://127.0.0.1:9/');
    const addresses: CheckedAddresses = [{ address: '127.0.0.1', family: 4 }];
    const hop = { url, method: 'GET' as const, headers: { 'x-a': 'a\nb' }, body: undefined };
    const error = await call.send(hop, addresses).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundError);
    expect(error).toMatchObject({
      kind: 'protocol',
      message: 'HTTP failure talking to 127.0.0.1:9 (ERR_INVALID_CHAR)',
    });
  });
});
