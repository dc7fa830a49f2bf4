import type { Kysely } from 'kysely';
import type { SealedSecrets, SecretBox } from '../secrets/secret-box.js';
import { isUniqueViolation } from './errors.js';
import { nowIso } from './ids.js';
import type { Database } from './schema.js';

/** How long a key is remembered (Stripe's and the IETF draft's 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** A request still "running" after this long died with its server; its key may be taken over. */
export const ABANDONED_AFTER_MS = 60 * 1000;
const PRUNE_INTERVAL_MS = 60 * 1000;

export type IdempotencyBegin =
  | { readonly kind: 'new' }
  | { readonly kind: 'replay'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'in-progress' }
  | { readonly kind: 'mismatch' };

export interface IdempotencyStore {
  /** Claims the key for this request, or says what became of the first request with it. */
  begin(accountId: number, key: string, requestHash: string): Promise<IdempotencyBegin>;
  /** Records the response; call it in the transaction that made the change. */
  complete(
    db: Kysely<Database>,
    accountId: number,
    key: string,
    status: number,
    body: unknown,
  ): Promise<void>;
  /** Forgets a claim whose request failed, so that a corrected retry may use the key. */
  release(accountId: number, key: string): Promise<void>;
}

/**
 * A completed response is stored as `<key id>|<sealed>`: sealed like a connector's secrets (it
 * holds the created connector's params), bound to the account and the key, so that a response
 * copied to another record does not open. `plugboard secrets rotate` re-seals these too.
 */
export const storedResponse = {
  seal(box: SecretBox, accountId: number, key: string, body: unknown): string {
    const sealed = box.seal(sealName(accountId, key), 'response', { response: JSON.stringify(body) });
    return `${sealed.keyId}|${sealed.sealed}`;
  },
  /** The body; throws when no configured key opens it. */
  open(box: SecretBox, accountId: number, key: string, stored: string): unknown {
    const { response } = box.open(sealName(accountId, key), 'response', storedResponse.split(stored));
    return JSON.parse(response ?? 'null');
  },
  /** The same response sealed again under the primary key. */
  reseal(box: SecretBox, accountId: number, key: string, stored: string): string {
    return storedResponse.seal(box, accountId, key, storedResponse.open(box, accountId, key, stored));
  },
  split(stored: string): SealedSecrets {
    const at = stored.indexOf('|');
    return at < 0
      ? { keyId: '', sealed: stored }
      : { keyId: stored.slice(0, at), sealed: stored.slice(at + 1) };
  },
};

function sealName(accountId: number, key: string): string {
  return `idempotency\0${accountId}\0${key}`;
}

export function createIdempotencyStore(
  db: Kysely<Database>,
  box: SecretBox,
  now = Date.now,
): IdempotencyStore {
  let lastPrune = 0;

  async function prune(): Promise<void> {
    if (now() - lastPrune < PRUNE_INTERVAL_MS) return;
    lastPrune = now();
    const cutoff = new Date(now() - IDEMPOTENCY_TTL_MS).toISOString();
    await db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff).execute();
  }

  async function claim(accountId: number, key: string, requestHash: string): Promise<boolean> {
    try {
      await db
        .insertInto('idempotency_keys')
        .values({
          account_id: accountId,
          key,
          request_hash: requestHash,
          state: 'running',
          response_status: null,
          response: null,
          created_at: nowIso(),
        })
        .execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  return {
    async begin(accountId, key, requestHash) {
      await prune();
      for (let attempt = 0; attempt < 3; attempt++) {
        if (await claim(accountId, key, requestHash)) return { kind: 'new' };
        const row = await db
          .selectFrom('idempotency_keys')
          .selectAll()
          .where('account_id', '=', accountId)
          .where('key', '=', key)
          .executeTakeFirst();
        if (!row) continue; // released or pruned meanwhile: claim again
        const age = now() - Date.parse(row.created_at);
        const stale = age > IDEMPOTENCY_TTL_MS || (row.state === 'running' && age > ABANDONED_AFTER_MS);
        if (stale) {
          await db
            .deleteFrom('idempotency_keys')
            .where('account_id', '=', accountId)
            .where('key', '=', key)
            .where('created_at', '=', row.created_at)
            .execute();
          continue;
        }
        if (row.request_hash !== requestHash) return { kind: 'mismatch' };
        if (row.state === 'running' || row.response === null || row.response_status === null) {
          return { kind: 'in-progress' };
        }
        try {
          const body = storedResponse.open(box, accountId, key, row.response);
          return { kind: 'replay', status: row.response_status, body };
        } catch {
          // Sealed under a master key that is gone (dropped before `secrets rotate` re-sealed it):
          // forget it like an expired key; a retried create then meets the unique name (409).
          await db
            .deleteFrom('idempotency_keys')
            .where('account_id', '=', accountId)
            .where('key', '=', key)
            .where('response', '=', row.response)
            .execute();
        }
      }
      return { kind: 'in-progress' };
    },

    async complete(trx, accountId, key, status, body) {
      await trx
        .updateTable('idempotency_keys')
        .set({
          state: 'done',
          response_status: status,
          response: storedResponse.seal(box, accountId, key, body),
        })
        .where('account_id', '=', accountId)
        .where('key', '=', key)
        .execute();
    },

    async release(accountId, key) {
      await db
        .deleteFrom('idempotency_keys')
        .where('account_id', '=', accountId)
        .where('key', '=', key)
        .where('state', '=', 'running')
        .execute();
    },
  };
}
