import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { DecryptionError, MasterKeyError, open, seal } from './cipher.js';
import type { KeyringSource } from './keyring.js';

/**
 * Keyed hashes of what the database keeps hashed: API keys and Idempotency-Key request
 * fingerprints (which hash the request body, secrets included). A plain SHA-256 let a copy of the
 * database alone test guesses offline (a word list recovered a password from a fingerprint, and a
 * key a person chose from its hash); keyed, a guess cannot be tested without the hash key.
 *
 * The hash key is 32 random bytes made once per database, stored sealed with the master key
 * (table `hash_keys`), re-sealed by `plugboard secrets rotate` like every other sealed value. It
 * never changes when the master key does, so a rotation neither needs the API keys' plaintext nor
 * stops any key from working; servers on one PostgreSQL database and the `plugboard` command all
 * read the same one. Each use has its own key, derived with HKDF-SHA-256 and a purpose label.
 * This file is the cryptography; the row is read, made and re-sealed by store/sealed/hash-key.ts.
 *
 * A keyed hash is `hmac:` and the hex HMAC-SHA-256 of the unkeyed SHA-256 hex digest. Keying the
 * digest rather than the value lets a stored unkeyed hash be rewritten keyed without the value.
 */
export interface Hashing {
  /** The stored form of an API key. */
  apiKey(key: string): string;
  /** The stored form of an API key from its unkeyed digest (a row stored before keyed hashes). */
  apiKeyFromDigest(digest: string): string;
  /** The stored form of a request fingerprint from its unkeyed digest. */
  fingerprint(digest: string): string;
}

export const KEYED_PREFIX = 'hmac:';
const HASH_KEY_BYTES = 32;
const ASSOCIATED_DATA = 'plugboard hash key\0v1';
const SALT = Buffer.from('plugboard keyed hashes', 'utf8');

/** Whether a stored hash is keyed (else it is an unkeyed SHA-256 digest of an earlier version). */
export function isKeyed(stored: string): boolean {
  return stored.startsWith(KEYED_PREFIX);
}

/** The unkeyed SHA-256 digest (hex) of an API key: what versions before keyed hashes stored. */
export function apiKeyDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The hash key as stored: sealed with a master key, and that key's id. */
export interface StoredHashKey {
  readonly sealed: string;
  readonly masterKeyId: string;
}

/** A new hash key: 32 random bytes, made once per database. */
export function generateHashKey(): Buffer {
  return randomBytes(HASH_KEY_BYTES);
}

export function createHashing(hashKey: Buffer): Hashing {
  const derive = (purpose: string) => Buffer.from(hkdfSync('sha256', hashKey, SALT, purpose, 32));
  const apiKeys = derive('plugboard api key hash v1');
  const fingerprints = derive('plugboard idempotency fingerprint v1');
  const mac = (key: Buffer, digest: string) =>
    `${KEYED_PREFIX}${createHmac('sha256', key).update(digest, 'utf8').digest('hex')}`;
  return {
    apiKey: (key) => mac(apiKeys, apiKeyDigest(key)),
    apiKeyFromDigest: (digest) => mac(apiKeys, digest),
    fingerprint: (digest) => mac(fingerprints, digest),
  };
}

/** The hash key sealed with the keyring's primary master key. */
export function sealHashKey(source: KeyringSource, hashKey: Buffer): StoredHashKey {
  const { primary } = source.current();
  return { sealed: seal(primary, hashKey.toString('base64'), ASSOCIATED_DATA), masterKeyId: primary.id };
}

/** The hash key, opened with whichever configured master key sealed it; a MasterKeyError saying what to set if none does. */
export function openHashKey(source: KeyringSource, stored: StoredHashKey): Buffer {
  const key = source.current().find(stored.masterKeyId) ?? source.reload().find(stored.masterKeyId);
  if (!key) {
    throw new MasterKeyError(
      `the hash key of the API keys is sealed with master key ${stored.masterKeyId}, which ${source.description} does not hold; ` +
        'set PLUGBOARD_MASTER_KEY (or PLUGBOARD_PREVIOUS_MASTER_KEYS, or restore the key file) to the key this database was used with',
    );
  }
  try {
    const hashKey = Buffer.from(open(key, stored.sealed, ASSOCIATED_DATA), 'base64');
    if (hashKey.length !== HASH_KEY_BYTES) throw new DecryptionError('the hash key is not 32 bytes');
    return hashKey;
  } catch (error) {
    if (!(error instanceof DecryptionError)) throw error;
    throw new MasterKeyError(
      `master key ${stored.masterKeyId} does not open the hash key of the API keys (damaged, or another key with the same id); ` +
        'restore the database or the key it was used with',
    );
  }
}
