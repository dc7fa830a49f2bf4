import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateMasterKey, MasterKeyError } from '../../secrets/cipher.js';
import { apiKeyDigest, KEYED_PREFIX } from '../../secrets/hash-key.js';
import { ephemeralKeyring } from '../../secrets/keyring.js';
import { type DatabaseHandle, migrateToLatest, openDatabase } from '../database.js';
import { openHashing, resealHashKey } from './hash-key.js';
import { verifyKeyring } from './keyring-check.js';

let database: DatabaseHandle;
beforeEach(async () => {
  database = openDatabase({ kind: 'sqlite', path: ':memory:' });
  await migrateToLatest(database);
});
afterEach(() => database.close());

describe('the hash key', () => {
  it('is made once per database, by whoever comes first, and read by everyone after', async () => {
    const keyring = ephemeralKeyring();
    const [a, b] = await Promise.all([openHashing(database.db, keyring), openHashing(database.db, keyring)]);
    const c = await openHashing(database.db, keyring);
    expect(b.apiKey('k')).toBe(a.apiKey('k'));
    expect(c.apiKey('k')).toBe(a.apiKey('k'));
    expect(await database.db.selectFrom('hash_keys').selectAll().execute()).toHaveLength(1);

    const other = openDatabase({ kind: 'sqlite', path: ':memory:' });
    try {
      await migrateToLatest(other);
      expect((await openHashing(other.db, keyring)).apiKey('k')).not.toBe(a.apiKey('k'));
    } finally {
      await other.close();
    }
  });

  it('keys each use apart, and keys a stored digest the same as the value it came from', async () => {
    const hashing = await openHashing(database.db, ephemeralKeyring());
    const digest = apiKeyDigest('pb_some-key');
    expect(hashing.apiKey('pb_some-key')).toMatch(new RegExp(`^${KEYED_PREFIX}[0-9a-f]{64}$`));
    expect(hashing.apiKeyFromDigest(digest)).toBe(hashing.apiKey('pb_some-key'));
    expect(hashing.fingerprint(digest)).not.toBe(hashing.apiKey('pb_some-key'));
  });

  it('outlives a master key rotation: re-sealed under the new key, every hash stays the same', async () => {
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const before = await openHashing(database.db, ephemeralKeyring([oldKey]));
    expect(await resealHashKey(database.db, ephemeralKeyring([newKey, oldKey]))).toBe(true);
    expect(await resealHashKey(database.db, ephemeralKeyring([newKey, oldKey]))).toBe(false);
    const after = await openHashing(database.db, ephemeralKeyring([newKey]));
    expect(after.apiKey('pb_k')).toBe(before.apiKey('pb_k'));
    expect(after.fingerprint('d')).toBe(before.fingerprint('d'));
    await expect(openHashing(database.db, ephemeralKeyring([oldKey]))).rejects.toThrow(MasterKeyError);
  });

  it('must open at start: a keyring without its master key is refused, naming the key', async () => {
    const used = generateMasterKey();
    await openHashing(database.db, ephemeralKeyring([used]));
    await expect(verifyKeyring(database.db, ephemeralKeyring())).rejects.toThrow(
      new RegExp(`hash key of the API keys is sealed with master key ${used.id}`),
    );
    await expect(
      verifyKeyring(database.db, ephemeralKeyring([{ id: used.id, material: generateMasterKey().material }])),
    ).rejects.toThrow(/does not open the hash key/);
    await expect(verifyKeyring(database.db, ephemeralKeyring([used]))).resolves.toBeUndefined();
  });
});
