import type { FastifyBaseLogger } from 'fastify';
import type { KeyStore } from './store/key-store.js';

export const DEFAULT_ACCOUNT = 'default';

/**
 * Makes sure somebody can call the API: the key from PLUGBOARD_API_KEY exists (write, account
 * `default`), or, on a database with no key at all, a first key is created and handed to
 * `show` once. Neither key is ever logged.
 */
export async function bootstrapKeys(
  keys: KeyStore,
  apiKey: string | undefined,
  log: FastifyBaseLogger,
  show: (text: string) => void,
): Promise<void> {
  if (apiKey !== undefined) {
    const outcome = await keys.ensure(DEFAULT_ACCOUNT, apiKey, 'PLUGBOARD_API_KEY');
    if (outcome === 'created') {
      log.info({ account: DEFAULT_ACCOUNT }, 'the key from PLUGBOARD_API_KEY is a write key now');
    } else if (outcome === 'reinstated') {
      log.warn(
        { account: DEFAULT_ACCOUNT },
        'the key from PLUGBOARD_API_KEY was revoked, expired, read-only or in another account and is an active write key of this account again; unset PLUGBOARD_API_KEY to keep a revoked key revoked',
      );
    }
    return;
  }
  const created = await keys.createFirst(DEFAULT_ACCOUNT, 'created on first start');
  if (!created) return;
  log.info(
    { keyId: created.id, account: DEFAULT_ACCOUNT },
    'no API key existed: created one and printed it once',
  );
  show(
    [
      '',
      `Plugboard created a write API key for account "${DEFAULT_ACCOUNT}" (id ${created.id}).`,
      'It is shown only this once; store it now. Use it as: Authorization: Bearer <key>',
      '',
      `    ${created.secret}`,
      '',
    ].join('\n'),
  );
}
