import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DecryptionError,
  encodeMasterKey,
  generateMasterKey,
  MASTER_KEY_BYTES,
  type MasterKey,
  MasterKeyError,
  masterKeyId,
  open,
  parseMasterKey,
  seal,
} from './cipher.js';

const aad = 'plugboard connector\0c_1\0github';

/** Decodes part `index` of a sealed value, lets `change` alter the bytes, and encodes it back. */
function alterPart(sealed: string, index: 1 | 2, change: (bytes: Buffer) => Buffer): string {
  const parts = sealed.split('.');
  parts[index] = change(Buffer.from(parts[index] ?? '', 'base64url')).toString('base64url');
  return parts.join('.');
}

function flip(at: (length: number) => number) {
  return (bytes: Buffer) => {
    const copy = Buffer.from(bytes);
    const i = at(copy.length);
    copy[i] = (copy[i] ?? 0) ^ 0x01;
    return copy;
  };
}

describe('seal and open', () => {
  const key = generateMasterKey();

  it.each([
    ['ascii', '{"apiKey":"ghp_0123456789"}'],
    ['unicode', 'pässwörd 密码 🔑 \u0000 \u{10ffff}'],
    ['the empty string', ''],
    ['a long value', 'x'.repeat(100_000)],
  ])('round-trips %s', (_name, plaintext) => {
    const sealed = seal(key, plaintext, aad);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(open(key, sealed, aad)).toBe(plaintext);
  });

  it('does not contain the plaintext', () => {
    const plaintext = 'TOPSECRET-TOPSECRET-TOPSECRET';
    const sealed = seal(key, plaintext, aad);
    expect(sealed).not.toContain(plaintext);
    expect(Buffer.from(sealed.split('.')[2] ?? '', 'base64url').toString('latin1')).not.toContain(
      'TOPSECRET',
    );
  });

  it('uses a fresh nonce for every call', () => {
    const outputs = new Set<string>();
    const nonces = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const sealed = seal(key, 'same plaintext', aad);
      outputs.add(sealed);
      nonces.add(sealed.split('.')[1] ?? '');
    }
    expect(outputs.size).toBe(50);
    expect(nonces.size).toBe(50);
    expect(Buffer.from([...nonces][0] ?? '', 'base64url')).toHaveLength(12);
  });

  describe('throws DecryptionError', () => {
    const sealed = seal(key, '{"password":"hunter2"}', aad);

    const cases: [string, () => string][] = [
      ['under another key', () => open(generateMasterKey(), sealed, aad)],
      [
        'under a key with one bit changed',
        () => {
          const material = Buffer.from(key.material);
          material[0] = (material[0] ?? 0) ^ 0x80;
          return open({ id: key.id, material }, sealed, aad);
        },
      ],
      ['for another connector id', () => open(key, sealed, 'plugboard connector\0c_2\0github')],
      ['for another type', () => open(key, sealed, 'plugboard connector\0c_1\0jira')],
      ['for an empty aad', () => open(key, sealed, '')],
      [
        'with a changed nonce byte',
        () =>
          open(
            key,
            alterPart(
              sealed,
              1,
              flip(() => 0),
            ),
            aad,
          ),
      ],
      [
        'with a changed last nonce byte',
        () =>
          open(
            key,
            alterPart(
              sealed,
              1,
              flip((n) => n - 1),
            ),
            aad,
          ),
      ],
      [
        'with a changed ciphertext byte',
        () =>
          open(
            key,
            alterPart(
              sealed,
              2,
              flip(() => 0),
            ),
            aad,
          ),
      ],
      [
        'with a changed tag byte',
        () =>
          open(
            key,
            alterPart(
              sealed,
              2,
              flip((n) => n - 1),
            ),
            aad,
          ),
      ],
      [
        'with the body one byte short',
        () =>
          open(
            key,
            alterPart(sealed, 2, (b) => b.subarray(0, -1)),
            aad,
          ),
      ],
      [
        'with only a tag left',
        () =>
          open(
            key,
            alterPart(sealed, 2, (b) => b.subarray(-16)),
            aad,
          ),
      ],
      [
        'with less than a tag left',
        () =>
          open(
            key,
            alterPart(sealed, 2, (b) => b.subarray(0, 15)),
            aad,
          ),
      ],
      [
        'with a short nonce',
        () =>
          open(
            key,
            alterPart(sealed, 1, (b) => b.subarray(0, 11)),
            aad,
          ),
      ],
      [
        'with a long nonce',
        () =>
          open(
            key,
            alterPart(sealed, 1, (b) => Buffer.concat([b, b])),
            aad,
          ),
      ],
      [
        'with a byte appended',
        () =>
          open(
            key,
            alterPart(sealed, 2, (b) => Buffer.concat([b, b.subarray(0, 1)])),
            aad,
          ),
      ],
      ['with no body', () => open(key, sealed.split('.').slice(0, 2).join('.'), aad)],
      ['with an empty body', () => open(key, `${sealed.split('.').slice(0, 2).join('.')}.`, aad)],
      ['for another format version', () => open(key, sealed.replace(/^v1\./, 'v2.'), aad)],
      ['for no format version', () => open(key, sealed.replace(/^v1\./, ''), aad)],
      ['for the empty string', () => open(key, '', aad)],
      ['for plain JSON', () => open(key, '{"password":"hunter2"}', aad)],
      ['for junk', () => open(key, 'v1.!!!.???', aad)],
    ];

    it.each(cases)('%s', (_name, attempt) => {
      expect(attempt).toThrow(DecryptionError);
    });

    it('with a message that holds neither the key nor the plaintext', () => {
      const other = generateMasterKey();
      try {
        open(other, sealed, aad);
        expect.unreachable('open should have thrown');
      } catch (error) {
        expect(error).toBeInstanceOf(DecryptionError);
        const message = (error as Error).message;
        expect(message).not.toContain('hunter2');
        expect(message).not.toContain(encodeMasterKey(key));
        expect(message).not.toContain(encodeMasterKey(other));
      }
    });
  });
});

describe('parseMasterKey', () => {
  const material = randomBytes(MASTER_KEY_BYTES);

  it.each([
    ['base64', material.toString('base64')],
    ['base64 without padding', material.toString('base64').replace(/=+$/, '')],
    ['base64url', material.toString('base64url')],
    ['base64 with a trailing newline', `${material.toString('base64')}\n`],
    ['base64 with surrounding blanks', `  ${material.toString('base64')}\t`],
  ])('accepts %s', (_name, encoded) => {
    const key = parseMasterKey(encoded, 'TEST_KEY');
    expect(key.material.equals(material)).toBe(true);
    expect(key.id).toBe(masterKeyId(material));
  });

  it('reads back what encodeMasterKey writes', () => {
    const key = generateMasterKey();
    const parsed = parseMasterKey(encodeMasterKey(key), 'TEST_KEY');
    expect(parsed.id).toBe(key.id);
    expect(parsed.material.equals(key.material)).toBe(true);
    // A key made by generateMasterKey seals what a parsed copy opens.
    expect(open(parsed, seal(key, 'x', aad), aad)).toBe('x');
  });

  const secretLooking = 'Sup3rS3cretSup3rS3cretSup3rS3cretSup3rS3cret';
  it.each([
    ['31 bytes', randomBytes(31).toString('base64')],
    ['33 bytes', randomBytes(33).toString('base64')],
    ['64 bytes', randomBytes(64).toString('base64')],
    ['16 bytes in hex', randomBytes(16).toString('hex')],
    ['32 bytes in hex (64 characters)', randomBytes(32).toString('hex')],
    ['the empty string', ''],
    ['blanks', '   '],
    ['a passphrase with spaces', 'correct horse battery staple and more words'],
    ['44 characters with a stray symbol', `${randomBytes(32).toString('base64').slice(0, 42)}*=`],
    ['two keys joined by a comma', `${material.toString('base64')},${material.toString('base64')}`],
    [
      'a key with a space inside',
      `${material.toString('base64').slice(0, 20)} ${material.toString('base64').slice(20)}`,
    ],
    ['too much padding', `${material.toString('base64')}==`],
    ['a 44-character word', secretLooking],
  ])('rejects %s with a message naming the source but not the value', (_name, encoded) => {
    let thrown: unknown;
    try {
      parseMasterKey(encoded, 'PLUGBOARD_MASTER_KEY');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MasterKeyError);
    const message = (thrown as Error).message;
    expect(message).toContain('PLUGBOARD_MASTER_KEY');
    expect(message).toMatch(/32/);
    if (encoded.trim().length >= 4) {
      expect(message).not.toContain(encoded.trim());
      // Not even a recognisable piece of it.
      expect(message).not.toContain(encoded.trim().slice(0, 8));
    }
  });
});

describe('masterKeyId', () => {
  it('is stable for a key and differs between keys', () => {
    const a: MasterKey = generateMasterKey();
    const b: MasterKey = generateMasterKey();
    expect(masterKeyId(a.material)).toBe(a.id);
    expect(masterKeyId(Buffer.from(a.material))).toBe(a.id);
    expect(parseMasterKey(encodeMasterKey(a), 'X').id).toBe(a.id);
    expect(a.id).not.toBe(b.id);
    expect(a.id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is a fixed value for a fixed key (stored ids must never change between versions)', () => {
    // sha256("plugboard master key id\0" + 32 zero bytes), first 16 hex digits.
    expect(masterKeyId(Buffer.alloc(32))).toBe('9cac562235738478');
    expect(masterKeyId(Buffer.alloc(32, 1))).not.toBe('9cac562235738478');
  });

  it('does not reveal the key', () => {
    for (let i = 0; i < 20; i++) {
      const key = generateMasterKey();
      expect(key.material.toString('hex')).not.toContain(key.id);
      expect(encodeMasterKey(key)).not.toContain(key.id);
    }
  });
});
