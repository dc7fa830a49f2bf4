import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { createKeyStore } from '../store/key-store.js';
import type { KeyRole } from '../store/schema.js';
import { openHashing } from '../store/sealed/hash-key.js';
import { openKeyring } from '../store/sealed/keyring-check.js';
import { parseExpiry, table, UsageError, withDatabase } from './shared.js';

const accountPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** `plugboard keys create|list|revoke`. */
export async function keysCommand(config: Config, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      account: { type: 'string' },
      role: { type: 'string' },
      label: { type: 'string' },
      expires: { type: 'string' },
      'new-account': { type: 'boolean' },
    },
  });
  switch (action) {
    case 'create': {
      const { account, role, label } = values;
      if (!account || !accountPattern.test(account)) {
        throw new UsageError(
          'keys create needs --account NAME (letters, digits, . _ -; at most 100 characters)',
        );
      }
      if (role !== 'read' && role !== 'write')
        throw new UsageError('keys create needs --role read or --role write');
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const keyRole: KeyRole = role;
      const expiresAt = values.expires === undefined ? undefined : parseExpiry(values.expires, Date.now());
      // Keys are stored as keyed hashes: the hash key, sealed with the master key, is opened (made
      // on a database no server has used yet) with the same keys the servers use.
      const created = await withDatabase(config, async (db) => {
        // A typo (`acmee`) would otherwise make a new, empty account whose key sees nothing.
        const known = await db.db
          .selectFrom('accounts')
          .select('name')
          .where('name', '=', account)
          .executeTakeFirst();
        if (!known && !values['new-account']) {
          const names = (await db.db.selectFrom('accounts').select('name').orderBy('name').execute()).map(
            (row) => row.name,
          );
          throw new UsageError(
            `there is no account ${account}, so this would create a new account for the key; add --new-account ` +
              `if that is what you want (accounts: ${names.length > 0 ? names.join(', ') : 'none yet'})`,
          );
        }
        if (!known) process.stderr.write(`Creating the new account ${account}.\n`);
        const { source, createdFile, stored } = await openKeyring(config, db.db);
        if (createdFile) {
          process.stderr.write(
            `Created the master key file ${createdFile} (mode 0600); back it up with the database.\n`,
          );
        }
        const hashing = await openHashing(db.db, source, stored);
        return createKeyStore(db.db, hashing).create(account, keyRole, label ?? '', expiresAt);
      });
      const expiry = expiresAt ? ` It expires at ${expiresAt}.` : '';
      process.stdout.write(
        `Created ${keyRole} key ${created.id} in account ${account}.${expiry} It is shown only this once:\n`,
      );
      process.stdout.write(`${created.secret}\n`);
      return 0;
    }
    case 'list': {
      if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
      const rows = await withDatabase(config, (db) => createKeyStore(db.db).list(values.account));
      const header = ['ID', 'LABEL', 'ACCOUNT', 'ROLE', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED'];
      const cells = rows.map((row) => [
        row.id,
        row.label,
        row.account,
        row.role,
        row.createdAt,
        row.lastUsedAt ?? '-',
        row.expiresAt ?? '-',
        row.revokedAt ?? '-',
      ]);
      process.stdout.write(rows.length > 0 ? `${table(header, cells)}\n` : 'no keys\n');
      return 0;
    }
    case 'revoke': {
      const [id, ...extra] = positionals;
      if (!id || extra.length > 0)
        throw new UsageError('keys revoke needs exactly one key ID (see keys list)');
      const outcome = await withDatabase(config, (db) => createKeyStore(db.db).revoke(id));
      if (outcome === 'unknown') {
        process.stderr.write(`plugboard: no key with id ${id}; keys list shows the ids\n`);
        return 1;
      }
      process.stdout.write(
        outcome === 'revoked' ? `Revoked key ${id}.\n` : `Key ${id} was already revoked.\n`,
      );
      return 0;
    }
    default:
      throw new UsageError(`unknown keys command: ${action ?? '(none)'}; use create, list or revoke`);
  }
}
