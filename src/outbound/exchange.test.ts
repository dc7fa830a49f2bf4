import http from 'node:http';
import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { parseAllowedTargets } from './allowed-targets.js';
import { Call, type CheckedAddresses, ConnectionPools, classify, portOf } from './exchange.js';
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

describe('connection pools: agents and the names of their connections', () => {
  const base = { host: 'svc.example.test', port: 443, servername: 'svc.example.test' };

  it('one keep-alive agent per scheme, made once', () => {
    const pools = new ConnectionPools();
    const secure = pools.agentFor('https:');
    const plain = pools.agentFor('http:');
    expect(secure).toBeInstanceOf(https.Agent);
    expect(plain).not.toBeInstanceOf(https.Agent);
    expect(plain).toBeInstanceOf(http.Agent);
    expect(pools.agentFor('https:')).toBe(secure);
    expect(pools.agentFor('http:')).toBe(plain);
  });

  it.each(['http:', 'https:'])(
    'over %s, a connection is named by its pool as well as its host',
    (protocol) => {
      const agent = new ConnectionPools().agentFor(protocol);
      const one = agent.getName({
        ...base,
        poolName: '["acct1/con_a",["127.0.0.1"]]',
      } as http.ClientRequestArgs);
      const two = agent.getName({
        ...base,
        poolName: '["acct2/con_b",["127.0.0.1"]]',
      } as http.ClientRequestArgs);
      expect(one.endsWith('|["acct1/con_a",["127.0.0.1"]]')).toBe(true);
      expect(one.startsWith('svc.example.test:443:')).toBe(true);
      expect(one).not.toBe(two);
      // An agent's own call without a pool name: no pool, not the word "undefined".
      expect(agent.getName(base).endsWith('|')).toBe(true);
      expect(agent.getName()).toMatch(/\|$/);
    },
  );
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
