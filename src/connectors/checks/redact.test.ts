import { describe, expect, it } from 'vitest';
import { SECRET_PLACEHOLDER } from '../secrets.js';
import { basicAuth } from './http.js';
import { Redactor, WITHHELD } from './redact.js';
import { targetSaid } from './said.js';

const STARS = '********';

describe('Redactor', () => {
  it('redacts every form of a basic-auth header: value, base64 payload, decoded pair, password', () => {
    const redactor = new Redactor();
    const header = basicAuth('me@x.io', 'S3cretPassw0rd');
    redactor.addHeader('Authorization', header);
    const payload = header.slice('Basic '.length);
    expect(payload).toBe('bWVAeC5pbzpTM2NyZXRQYXNzdzByZA==');
    for (const echoed of [
      `Bad auth header: ${header}`,
      `payload ${payload}`,
      'user me@x.io:S3cretPassw0rd',
      'password S3cretPassw0rd',
    ]) {
      const clean = redactor.redact(echoed);
      expect(clean).toContain(STARS);
      expect(clean).not.toMatch(/bWVAeC5p|S3cret|Passw0rd/);
    }
  });

  it('redacts the token part of Bearer and `Token token=` headers', () => {
    const redactor = new Redactor();
    redactor.addHeader('authorization', 'Bearer ghp_abc123def456');
    redactor.addHeader('Authorization', 'Token token=zammad-token-1');
    expect(redactor.redact('got ghp_abc123def456 and zammad-token-1')).toBe(`got ${STARS} and ${STARS}`);
  });

  it('leaves headers that carry no credential alone', () => {
    const redactor = new Redactor();
    redactor.addHeader('accept', 'application/json');
    redactor.addHeader('content-type', 'application/json-rpc');
    expect(redactor.redact('expected application/json')).toBe('expected application/json');
  });

  it('takes Idempotency-Key for the delivery id it is, not a credential; X-Api-Key stays one', () => {
    const redactor = new Redactor();
    redactor.addHeader('Idempotency-Key', 'dlv_0123456789abcdefghij');
    redactor.addHeader('X-Api-Key', 'key-0123456789abcdef');
    expect(redactor.redact('seen dlv_0123456789abcdefghij with key-0123456789abcdef')).toBe(
      `seen dlv_0123456789abcdefghij with ${STARS}`,
    );
    expect(redactor.disguises('DLV_0123456789ABCDEFGHIJ')).toBe(false);
  });

  it('redacts the credential-like parts of a secret URL, not only the whole URL', () => {
    const redactor = new Redactor();
    const token = 'AbCdEf-0123456789_ghIJKLmnopQRstuvWXyz';
    redactor.addSecret(`https://discord.com/api/webhooks/112233445566/${token}?thread_id=99887766554433`);
    const said = redactor.redact(`404: no route /api/webhooks/112233445566/${token} (thread 99887766554433)`);
    expect(said).not.toContain(token);
    expect(said).not.toContain('99887766554433');
    // Short segments, and words that name where the credential lives, are not credentials.
    expect(said).toContain('/api/webhooks/');
    expect(redactor.redact('Discord webhooks answer 404 for a deleted webhook')).toBe(
      'Discord webhooks answer 404 for a deleted webhook',
    );
  });

  it('still redacts a lower-case token: one with a digit, or one as long as a token', () => {
    const redactor = new Redactor();
    redactor.addSecret('https://mm.example.com/hooks/abcdefghijklmnopqrstuvwxyz/and9digits');
    expect(redactor.redact('no hook abcdefghijklmnopqrstuvwxyz or and9digits')).toBe(
      `no hook ${STARS} or ${STARS}`,
    );
  });

  it('redacts userinfo and percent-decoded forms of a secret URL', () => {
    const redactor = new Redactor();
    redactor.addSecret('https://robot:pa%24%24word99@hooks.example.com/x');
    expect(redactor.redact('login pa$$word99 failed')).toBe(`login ${STARS} failed`);
  });

  it('ignores secrets too short to look for', () => {
    const redactor = new Redactor();
    redactor.addSecret('abc');
    expect(redactor.redact('abc def')).toBe('abc def');
  });

  it('redacts before it cuts, and leaves no start of a credential at the cut', () => {
    const redactor = new Redactor();
    redactor.addSecret('S3cretPassw0rd');
    // Whole: redacted first, so the cut falls in the placeholder.
    expect(redactor.truncate(`${'x'.repeat(16)}S3cretPassw0rd and more`, 22)).toBe(
      `${'x'.repeat(16)}******…`,
    );
    // Already incomplete in the text (the target cut it): its start is still removed at the cut.
    expect(redactor.truncate(`${'x'.repeat(16)}S3cretPassw0 and more`, 22)).toBe(
      `${'x'.repeat(16)}${STARS}…`,
    );
    // Shorter than 4 characters of it: nothing to recognise.
    expect(redactor.truncate(`${'x'.repeat(19)}S3cretPassw0 and more`, 22)).toBe(`${'x'.repeat(19)}S3c…`);
  });

  it('redacts a credential prefix before each … of a message, but not at its end', () => {
    const redactor = new Redactor();
    redactor.addSecret('good-secret-1');
    expect(redactor.redactMessage('quoted: abc good-se…) then good')).toBe(
      `quoted: abc ${STARS}…) then good`,
    );
  });
});

describe('what the target said', () => {
  const redactor = new Redactor();
  redactor.addHeader('authorization', 'Bearer tok-123456789');

  it('quotes the message of a JSON error, and joins a JSON-RPC error with its data', () => {
    expect(targetSaid('{"errorMessages":["Client must be authenticated."]}', redactor)).toBe(
      'Client must be authenticated.',
    );
    const rpc =
      '{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params.","data":"Not authorised."},"id":1}';
    expect(targetSaid(rpc, redactor)).toBe('Invalid params. Not authorised.');
    expect(targetSaid('[{"message":"The operator account is blocked."}]', redactor)).toBe(
      'The operator account is blocked.',
    );
  });

  it('takes the first non-empty line of a text or HTML body, tags and scripts stripped', () => {
    expect(targetSaid('\n  \nInvalid token tok-123456789\nsecond line', redactor)).toBe(
      `Invalid token ${STARS}`,
    );
    const html =
      '<!DOCTYPE html><html><head><script>var a = 1;</script><style>h1{}</style></head>\n' +
      '<body><h1>Error <b>401</b> &amp; more</h1><p>details</p></body></html>';
    expect(targetSaid(html, redactor)).toBe('Error 401 & more');
    expect(targetSaid('<html><body><h1>404 Not Found</h1></body></html>', redactor)).toBe('404 Not Found');
  });

  it('redacts a credential that JSON escaping hid from the raw body', () => {
    const slashed = new Redactor();
    slashed.addSecret('abc/def/ghi');
    expect(targetSaid('{"message":"bad token abc\\/def\\/ghi"}', slashed)).toBe(`bad token ${STARS}`);
  });

  it('keeps quotes short and on one line, without control or direction characters', () => {
    const said = targetSaid(JSON.stringify({ message: `a\u202Eb\u0007c ${'y'.repeat(500)}` }), redactor);
    expect(said).toMatch(/^a b c y+…$/);
    expect(said?.length).toBeLessThanOrEqual(201);
  });

  it('says nothing for an empty body or JSON without a message', () => {
    expect(targetSaid('', redactor)).toBeUndefined();
    expect(targetSaid('{"id": 3}', redactor)).toBeUndefined();
  });
});

describe('Redactor at its boundaries', () => {
  it('a secret of exactly 4 characters is redacted; one of 3 is not looked for', () => {
    const redactor = new Redactor();
    redactor.addSecret('k3y!');
    redactor.addSecret('abc');
    expect(redactor.redact('key k3y! and abc')).toBe(`key ${STARS} and abc`);
  });

  it('a part of a secret URL of exactly 8 characters is redacted; one of 7 is not', () => {
    const redactor = new Redactor();
    redactor.addSecret('https://hooks.example.com/t0k3n123/s3cr3t7');
    expect(redactor.redact('segments t0k3n123 and s3cr3t7')).toBe(`segments ${STARS} and s3cr3t7`);
  });

  it('a lower-case URL segment of exactly 16 letters is redacted as a token; one of 15 names a place', () => {
    const redactor = new Redactor();
    redactor.addSecret('https://hooks.example.com/qwertyuiopasdfgh/zxcvbnmlkjhgfds');
    expect(redactor.redact('qwertyuiopasdfgh at zxcvbnmlkjhgfds')).toBe(`${STARS} at zxcvbnmlkjhgfds`);
  });

  it('a segment of words joined by - or _ names a place; a dash at either end, a digit or a capital makes it a credential', () => {
    const redactor = new Redactor();
    redactor.addSecret('https://hooks.example.com/in-coming_hook/-webhooks/webhooks-/hook-9-abc/Servicesx');
    expect(redactor.redact('in-coming_hook')).toBe('in-coming_hook');
    for (const part of ['-webhooks', 'webhooks-', 'hook-9-abc', 'Servicesx'])
      expect(redactor.redact(`at ${part}!`), part).toBe(`at ${STARS}!`);
  });

  it('a secret URL is also redacted as the URL parser writes it (host lower-cased)', () => {
    const redactor = new Redactor();
    redactor.addSecret('HTTPS://Hooks.Example.com/services/abc');
    expect(redactor.redact('posting to https://hooks.example.com/services/abc')).toBe(`posting to ${STARS}`);
  });

  it('a query value without a name, and the fragment, are redacted without their ? and #', () => {
    const redactor = new Redactor();
    redactor.addSecret('https://hooks.example.com/x?bareToken12345#frag-secret-99');
    expect(redactor.redact('got bareToken12345 and frag-secret-99')).toBe(`got ${STARS} and ${STARS}`);
  });

  it('a part of a secret URL that does not percent-decode is redacted as it is', () => {
    const redactor = new Redactor();
    redactor.addSecret('https://hooks.example.com/half%E0%A4%Apart');
    expect(redactor.redact('no hook half%E0%A4%Apart')).toBe(`no hook ${STARS}`);
  });

  it('a secret is also redacted as percent-encoding writes it', () => {
    const redactor = new Redactor();
    redactor.addSecret('pass word/1');
    expect(redactor.redact('sent q=pass%20word%2F1')).toBe(`sent q=${STARS}`);
  });

  it('the longest credential is replaced first, so that no tail of it is left', () => {
    const redactor = new Redactor();
    redactor.addSecret('abcd1234');
    redactor.addSecret('abcd1234wxyz');
    expect(redactor.redact('token abcd1234wxyz')).toBe(`token ${STARS}`);
  });

  it('redacts each quoted value of a Digest header, whose credential holds spaces and commas', () => {
    const redactor = new Redactor();
    const credential =
      'username="robot-1", realm="api", nonce="dcd98b7102dd2f0e", uri="/x", response="6629fae49393a05397450978507c4ef1"';
    redactor.addHeader('Authorization', `Digest ${credential}`);
    expect(redactor.redact(`bad header: ${credential}`)).toBe(`bad header: ${STARS}`);
    expect(
      redactor.redact('response 6629fae49393a05397450978507c4ef1 for nonce dcd98b7102dd2f0e by robot-1'),
    ).toBe(`response ${STARS} for nonce ${STARS} by ${STARS}`);
  });

  it('a text of exactly max characters is not cut; one more is', () => {
    const redactor = new Redactor();
    expect(redactor.truncate('x'.repeat(22), 22)).toBe('x'.repeat(22));
    expect(redactor.truncate('x'.repeat(23), 22)).toBe(`${'x'.repeat(22)}…`);
  });

  it('a cut never leaves half of a surrogate pair', () => {
    expect(new Redactor().truncate(`${'x'.repeat(21)}😀 and more`, 22)).toBe(`${'x'.repeat(21)}…`);
  });

  it('a cut prefix of exactly 4 characters of a credential is replaced', () => {
    const redactor = new Redactor();
    redactor.addSecret('S3cretPassw0rd');
    expect(redactor.truncate(`${'x'.repeat(18)}S3cretPassw0 and more`, 22)).toBe(
      `${'x'.repeat(18)}${STARS}…`,
    );
  });

  it('a quote is one line: control and format characters and runs of blanks become one space, ends trimmed', () => {
    expect(new Redactor().quote(' \ta\u0000\u0007b \u200e \r\n c\u202e ', 50)).toBe('a b c');
  });

  it('a quote looks for disguises in the first 4 × max characters, the part it was cut from', () => {
    const redactor = new Redactor();
    redactor.addSecret('S3cretPassw0rd');
    // Upper-cased, the password is a disguise: not replaced, but withheld.
    expect(redactor.quote(`${'a'.repeat(40 - 14)}S3CRETPASSW0RD`, 10)).toBe(WITHHELD);
    expect(redactor.quote(`${'a'.repeat(40)}S3CRETPASSW0RD`, 10)).toBe(`${'a'.repeat(10)}…`);
  });

  it('a quote holding a disguised credential is withheld whole, saying why', () => {
    const redactor = new Redactor();
    redactor.addSecret('S3cretPassw0rd');
    expect(redactor.quote('bad S3CRETPASSW0RD', 50)).toBe('[quote withheld: it contained a credential]');
  });

  it('a secret with blanks inside and around is also redacted as trimmed, inner blanks kept', () => {
    const redactor = new Redactor();
    redactor.addSecret(' pass  word\t99 ');
    expect(redactor.redact('got "pass  word\t99".')).toBe(`got "${STARS}".`);
  });

  it('the placeholder itself is never a secret: its stars and their hex stay quotable', () => {
    const redactor = new Redactor();
    redactor.addSecret(SECRET_PLACEHOLDER);
    expect(redactor.quote('ids 2a2a2a2a2a2a2a2a and KioqKioqKio', 50)).toBe(
      'ids 2a2a2a2a2a2a2a2a and KioqKioqKio',
    );
    expect(redactor.truncate(`${'x'.repeat(20)}**** and more`, 24)).toBe(`${'x'.repeat(20)}****…`);
  });

  it('a credential header without a scheme is redacted whole; one with blanks around still yields its token', () => {
    const redactor = new Redactor();
    redactor.addHeader('X-Api-Key', 'k3y-abcdef');
    redactor.addHeader('Authorization', '  Bearer tok-12345  ');
    expect(redactor.redact('keys k3y-abcdef and tok-12345')).toBe(`keys ${STARS} and ${STARS}`);
  });

  it('only a Basic credential is base64-decoded: an opaque token that decodes to words does not mangle messages', () => {
    const redactor = new Redactor();
    redactor.addHeader('Authorization', `Bearer ${Buffer.from('user:password').toString('base64')}`);
    expect(redactor.redact('Invalid username or password')).toBe('Invalid username or password');
  });

  it('a credential that does not start with a scheme is one value: its words are not credentials of their own', () => {
    const redactor = new Redactor();
    redactor.addHeader('X-Api-Key', '1 correct horse battery staple');
    expect(redactor.redact('key 1 correct horse battery staple')).toBe(`key ${STARS}`);
    expect(redactor.redact('no horse battery staple here')).toBe('no horse battery staple here');
  });

  it('a scheme is matched whatever its case, with digits, dots and dashes', () => {
    const redactor = new Redactor();
    redactor.addHeader('Authorization', 'bearer tok-lower-123');
    redactor.addHeader('Authorization', 'Sig.v1-2 tok-dotted-456');
    expect(redactor.redact('got tok-lower-123 and tok-dotted-456')).toBe(`got ${STARS} and ${STARS}`);
  });

  it('blanks between the scheme and the token are not part of it: the text around the token stays', () => {
    const redactor = new Redactor();
    redactor.addHeader('Authorization', 'Bearer  tok-12345');
    expect(redactor.redact('sent tok-12345.')).toBe(`sent ${STARS}.`);
  });

  it('words of a credential that are not the value of a name=value pair are not redacted on their own', () => {
    const redactor = new Redactor();
    redactor.addHeader(
      'Authorization',
      'Signature keyId="hmac-key-1",algorithm="hs2019",headers="(request-target) host date digest",signature="c2lnbmF0dXJlLWJ5dGVz"',
    );
    expect(redactor.redact('the host and date headers of the digest')).toBe(
      'the host and date headers of the digest',
    );
    expect(redactor.redact('signed with hmac-key-1: c2lnbmF0dXJlLWJ5dGVz')).toBe(
      `signed with ${STARS}: ${STARS}`,
    );
  });

  it('a value after a lone = (`token =…`) is redacted too', () => {
    const redactor = new Redactor();
    redactor.addHeader('Authorization', 'Token token =zammad-token-2');
    expect(redactor.redact('got zammad-token-2')).toBe(`got ${STARS}`);
  });

  it('a quoted value loses only its enclosing quotes: a quote inside it stays part of it', () => {
    const redactor = new Redactor();
    redactor.addHeader('Authorization', 'Token token="pa"ss-word-1"');
    expect(redactor.redact('got pa"ss-word-1')).toBe(`got ${STARS}`);
    expect(redactor.redact('got pass-word-1')).toBe('got pass-word-1');
  });

  it('a surrogate pair before the cut is kept whole', () => {
    expect(new Redactor().truncate(`😀${'x'.repeat(30)}`, 22)).toBe(`😀${'x'.repeat(20)}…`);
  });
});
