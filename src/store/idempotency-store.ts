import type { Kysely } from 'kysely';
import type { Hashing } from '../secrets/hash-key.js';
import type { SealedSecrets, SecretBox } from '../secrets/secret-box.js';
import { tryLockOn } from './dialect.js';
import { nowIso } from './ids.js';
import type { Database } from './schema.js';

/** How long a key is remembered (Stripe's and the IETF draft's 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const PRUNE_INTERVAL_MS = 60 * 1000;

/** What the first request with a key became, when it finished. */
export type IdempotencyPrior =
  | { readonly kind: 'replay'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'mismatch' };

export type IdempotencyOutcome =
  /** This request did the work; its response is recorded under the key. */
  | { readonly kind: 'done'; readonly status: number; readonly body: unknown }
  | IdempotencyPrior
  /** A request with this key is running now, here or on another server. */
  | { readonly kind: 'in-progress' };

/**
 * Whose Idempotency-Keys: each API key has its own. Another key of the account that sends the same
 * Idempotency-Key makes its own request, never a replay of the first one's response nor a 422 that
 * tells it the first body was another (which confirmed guessed write-only secrets).
 */
export interface IdempotencyOwner {
  readonly accountId: number;
  readonly apiKeyId: string;
}

export interface IdempotencyStore {
  /** The finished first request with this key, if there is one (not expired, opened by a configured key). */
  find(
    owner: IdempotencyOwner,
    key: string,
    requestHash: string,
    alsoSame?: readonly string[],
  ): Promise<IdempotencyPrior | undefined>;
  /**
   * Runs `work` (the create) and records its response under the key in one transaction, unless a
   * request with the key finished already or runs now. Nothing is recorded when `work` throws: a
   * corrected retry may use the key; and nothing outlives a crash: no claim is ever committed alone.
   */
  run(
    owner: IdempotencyOwner,
    key: string,
    /** The unkeyed digest of the request (src/http/idempotency.ts); stored keyed. */
    requestHash: string,
    work: (trx: Kysely<Database>) => Promise<{ status: number; body: unknown }>,
    /** Other fingerprints of the same request (one an earlier version recorded). */
    alsoSame?: readonly string[],
  ): Promise<IdempotencyOutcome>;
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
  hashing: Hashing,
  now = Date.now,
): IdempotencyStore {
  let lastPrune = 0;
  /** Keys of the requests this server is running: a retry meanwhile gets 409 at once. */
  const running = new Set<string>();

  async function prune(): Promise<void> {
    if (now() - lastPrune < PRUNE_INTERVAL_MS) return;
    lastPrune = now();
    const cutoff = new Date(now() - IDEMPOTENCY_TTL_MS).toISOString();
    await db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff).execute();
  }

  /**
   * The finished record of the key, read with `on`. An expired one, a `running` claim (only
   * versions before this one committed those, and their request is long gone) and one that no
   * configured master key opens any more are deleted and read as none.
   */
  async function prior(
    on: Kysely<Database>,
    { accountId, apiKeyId }: IdempotencyOwner,
    key: string,
    fingerprints: readonly string[],
  ): Promise<IdempotencyPrior | undefined> {
    const row = await on
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('api_key_id', '=', apiKeyId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!row) return undefined;
    const forget = () =>
      on
        .deleteFrom('idempotency_keys')
        .where('account_id', '=', accountId)
        .where('api_key_id', '=', apiKeyId)
        .where('key', '=', key)
        .where('created_at', '=', row.created_at)
        .execute();
    const expired = now() - Date.parse(row.created_at) > IDEMPOTENCY_TTL_MS;
    if (expired || row.state !== 'done' || row.response === null || row.response_status === null) {
      await forget();
      return undefined;
    }
    if (!fingerprints.includes(row.request_hash)) return { kind: 'mismatch' };
    try {
      return {
        kind: 'replay',
        status: row.response_status,
        body: storedResponse.open(box, accountId, key, row.response),
      };
    } catch {
      // Sealed under a master key that is gone (dropped before `secrets rotate` re-sealed it):
      // forget it like an expired key; a retried create then meets the unique name (409).
      await forget();
      return undefined;
    }
  }

  /** The keyed forms of a request's fingerprints: the current one first, then those earlier versions made. */
  const keyedAll = (requestHash: string, alsoSame: readonly string[] = []) =>
    [requestHash, ...alsoSame].map((digest) => hashing.fingerprint(digest));

  return {
    find(owner, key, requestHash, alsoSame) {
      return prior(db, owner, key, keyedAll(requestHash, alsoSame));
    },

    async run(owner, key, requestHash, work, alsoSame) {
      const { accountId, apiKeyId } = owner;
      const fingerprints = keyedAll(requestHash, alsoSame);
      // Neither id has a colon: unambiguous.
      const mine = `${accountId}:${apiKeyId}:${key}`;
      if (running.has(mine)) return { kind: 'in-progress' };
      running.add(mine);
      try {
        await prune();
        const earlier = await prior(db, owner, key, fingerprints);
        if (earlier) return earlier;
        return await db.transaction().execute(async (trx): Promise<IdempotencyOutcome> => {
          // Another server running the same key holds this lock until its transaction ends; the
          // lock ends with it, so a server that dies leaves nothing that blocks a retry.
          if (!(await tryLockOn(trx, `plugboard:idempotency:${mine}`))) return { kind: 'in-progress' };
          const meanwhile = await prior(trx, owner, key, fingerprints);
          if (meanwhile) return meanwhile;
          const { status, body } = await work(trx);
          await trx
            .insertInto('idempotency_keys')
            .values({
              account_id: accountId,
              api_key_id: apiKeyId,
              key,
              request_hash: fingerprints[0] ?? '',
              state: 'done',
              response_status: status,
              response: storedResponse.seal(box, accountId, key, body),
              created_at: nowIso(),
            })
            .execute();
          return { kind: 'done', status, body };
        });
      } finally {
        running.delete(mine);
      }
    },
  };
}
