import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { randomBytesPooled } from '../random.js';

/** A 256-bit master key and its public id (a hash prefix: names the key without revealing it). */
export interface MasterKey {
  readonly id: string;
  readonly material: Buffer;
}

export const MASTER_KEY_BYTES = 32;
/** A master key id is this many hex digits (stored beside every ciphertext; never changes). */
export const MASTER_KEY_ID_LENGTH = 16;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

export function masterKeyId(material: Buffer): string {
  return createHash('sha256')
    .update('plugboard master key id\0')
    .update(material)
    .digest('hex')
    .slice(0, MASTER_KEY_ID_LENGTH);
}

/** Reads a base64 (or base64url) master key; throws a message naming `source` but never the value. */
export function parseMasterKey(encoded: string, source: string): MasterKey {
  const text = encoded.trim();
  const material = /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (material.length !== MASTER_KEY_BYTES) {
    throw new MasterKeyError(
      `${source} must be ${MASTER_KEY_BYTES} random bytes in base64 (44 characters); ` +
        `make one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`,
    );
  }
  return { id: masterKeyId(material), material };
}

export function generateMasterKey(): MasterKey {
  const material = randomBytes(MASTER_KEY_BYTES);
  return { id: masterKeyId(material), material };
}

export function encodeMasterKey(key: MasterKey): string {
  return key.material.toString('base64');
}

/**
 * The key as OpenSSL's key object, made once per key: createCipheriv with a Buffer wraps the bytes
 * in a new secret key object on every call (about a third of a seal's CPU, ~4 µs); with the object
 * kept, each call only sets up the cipher. The same bytes, so the same ciphertexts.
 */
const keyObjects = new WeakMap<Buffer, KeyObject>();

function keyObjectOf(key: MasterKey): KeyObject {
  let keyObject = keyObjects.get(key.material);
  if (keyObject === undefined) {
    keyObject = createSecretKey(key.material);
    keyObjects.set(key.material, keyObject);
  }
  return keyObject;
}

/**
 * AES-256-GCM with a fresh 96-bit nonce per call. `aad` (the connector's id and type) is
 * authenticated but not stored: a ciphertext copied to another connector does not decrypt.
 * Output: `v1.<nonce>.<ciphertext+tag>` in base64url; the key id is stored beside it.
 */
export function seal(key: MasterKey, plaintext: string, aad: string): string {
  const nonce = randomBytesPooled(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyObjectOf(key), nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${FORMAT}.${nonce.toString('base64url')}.${body.toString('base64url')}`;
}

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

let scratch = Buffer.allocUnsafe(4096);

/** A reused buffer of at least `bytes` (an upper bound: base64 decodes to fewer bytes than characters). */
function scratchFor(bytes: number): Buffer {
  if (scratch.length < bytes) scratch = Buffer.allocUnsafe(bytes);
  return scratch;
}

/** The inverse of seal; throws DecryptionError for a wrong key, a wrong `aad` or a tampered value. */
export function open(key: MasterKey, sealed: string, aad: string): string {
  // As `const [format, nonce, body] = sealed.split('.')` reads it (a part past the third is
  // ignored), without the array and the format's string: a list page opens a hundred of these.
  const first = sealed.indexOf('.');
  const second = first < 0 ? -1 : sealed.indexOf('.', first + 1);
  if (first !== FORMAT.length || !sealed.startsWith(FORMAT) || second < 0)
    throw new DecryptionError('unknown ciphertext format');
  const third = sealed.indexOf('.', second + 1);
  const nonceText = sealed.slice(first + 1, second);
  const bodyText = sealed.slice(second + 1, third < 0 ? sealed.length : third);
  if (!nonceText || !bodyText) throw new DecryptionError('unknown ciphertext format');
  // Decoded into one scratch buffer, the associated data beside them, rather than into three new
  // Buffers per secret: a walk page opens ~80 of these, and their allocations were a real share of
  // its garbage. Every use below copies or consumes the bytes before the next call reuses them
  // (createDecipheriv copies the nonce, setAAD and setAuthTag take theirs in, update returns a new
  // Buffer), and open is synchronous throughout.
  const scratch = scratchFor(nonceText.length + bodyText.length + aad.length * 3);
  const nonceLength = scratch.write(nonceText, 0, 'base64url');
  const bodyLength = scratch.write(bodyText, nonceLength, 'base64url');
  const aadEnd = nonceLength + bodyLength + scratch.write(aad, nonceLength + bodyLength, 'utf8');
  if (nonceLength !== NONCE_BYTES || bodyLength < TAG_BYTES)
    throw new DecryptionError('truncated ciphertext');
  const bodyEnd = nonceLength + bodyLength;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyObjectOf(key), scratch.subarray(0, nonceLength));
    decipher.setAAD(scratch.subarray(bodyEnd, aadEnd));
    decipher.setAuthTag(scratch.subarray(bodyEnd - TAG_BYTES, bodyEnd));
    const head = decipher.update(scratch.subarray(nonceLength, bodyEnd - TAG_BYTES));
    const tail = decipher.final();
    // GCM gives every byte from update: final only authenticates (and gives nothing).
    return (tail.length === 0 ? head : Buffer.concat([head, tail])).toString('utf8');
  } catch {
    throw new DecryptionError('ciphertext does not authenticate under this key and connector');
  }
}
