import { beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { ephemeralKeyring } from '../secrets/keyring.js';
import { createSecretBox } from '../secrets/secret-box.js';
import {
  type ConnectorStore,
  createConnectorStore,
  refusedForARow,
  type StoredConnector,
} from './connector-store.js';
import type { DatabaseHandle } from './database.js';
import { jiraParams, typeOf, useSqliteStore } from './fixture.js';

let handle: DatabaseHandle;
let store: ConnectorStore;
let accountId: number;
const actor = { keyId: 'key_test', keyLabel: 'test' };
const jira = typeOf('jira');

useSqliteStore('connector-store', (fixture) => {
  ({ handle, accountId } = fixture);
  store = createConnectorStore(handle.db, createSecretBox(ephemeralKeyring()), undefined, handle.transact);
});

const auditCount = async () =>
  (await handle.db.selectFrom('audit_events').select('action').execute()).map((row) => row.action);
const version = async () =>
  (
    await handle.db
      .selectFrom('accounts')
      .select('connectors_version')
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow()
  ).connectors_version;
/** What a later read of the connector gives (a fresh store: nothing kept from the write). */
const readBack = (id: string) =>
  createConnectorStore(handle.db, storeBox, undefined, handle.transact).get(accountId, id);
let storeBox: ReturnType<typeof createSecretBox>;

/** The fields a connector is presented with; a written connector must equal what a read opens. */
const fieldsOf = (connector: StoredConnector | undefined) =>
  connector && {
    id: connector.id,
    type: connector.type.id,
    name: connector.name,
    params: connector.params,
    paramOrder: Object.keys(connector.params),
    createdAt: connector.createdAt,
    updatedAt: connector.updatedAt,
    lastCheck: connector.lastCheck,
  };

describe('writes in one SQLite write group (compiled statements run at once)', () => {
  beforeEach(() => {
    storeBox = createSecretBox(ephemeralKeyring());
    store = createConnectorStore(handle.db, storeBox, undefined, handle.transact);
  });

  it('a create refused for its name leaves the others of its group, their audit events and version bumps', async () => {
    const outcomes = await Promise.allSettled(
      ['a', 'b', 'a', 'c'].map((name, n) =>
        store.create(accountId, actor, { type: jira, name, params: jiraParams(n) }),
      ),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const refused = outcomes[2];
    expect(refused?.status === 'rejected' && refused.reason instanceof AppError && refused.reason.code).toBe(
      'NAME_TAKEN',
    );
    expect(await auditCount()).toEqual(['create', 'create', 'create']);
    expect(await version()).toBe(3);
    for (const outcome of outcomes) {
      if (outcome.status !== 'fulfilled') continue;
      // What the create answered is what a read of the stored row opens, secrets included.
      expect(fieldsOf(outcome.value)).toEqual(fieldsOf(await readBack(outcome.value.id)));
      expect(outcome.value.params.password).toMatch(/^secret-/);
    }
  });

  it('updates in one group: each answers what a read of its row gives; a rename onto a taken name is refused alone', async () => {
    const made = await Promise.all(
      [0, 1, 2].map((n) =>
        store.create(accountId, actor, { type: jira, name: `c${n}`, params: jiraParams(n) }),
      ),
    );
    const [first, second, third] = made as [StoredConnector, StoredConnector, StoredConnector];
    await handle.db
      .updateTable('connectors')
      .set({ last_check: JSON.stringify({ ok: true, checkedAt: first.createdAt }) })
      .execute();
    const outcomes = await Promise.allSettled([
      // A rename keeps the last check; a change of params clears it.
      store.update(accountId, actor, first.id, (current) => ({ name: 'renamed', params: current.params })),
      store.update(accountId, actor, second.id, () => ({ name: 'c1', params: jiraParams(7) })),
      // c0 is free by then (the first was renamed earlier in the group); c1 is not.
      store.update(accountId, actor, third.id, (current) => ({ name: 'c1', params: current.params })),
      store.update(accountId, actor, 'no-such-id', (current) => ({ name: 'x', params: current.params })),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const [renamed, changed, , missing] = outcomes.map((outcome) =>
      outcome.status === 'fulfilled' ? outcome.value : undefined,
    );
    expect(missing).toBeUndefined();
    expect(renamed?.lastCheck).toEqual({ ok: true, checkedAt: first.createdAt });
    expect(changed?.lastCheck).toBeUndefined();
    expect(changed?.params).toEqual(jiraParams(7));
    for (const written of [renamed, changed]) {
      expect(written && fieldsOf(written)).toEqual(fieldsOf(await readBack(written?.id ?? '')));
    }
    expect(await auditCount()).toEqual(['create', 'create', 'create', 'update', 'update']);
    // The refused rename left the third as it was (with the check set above).
    expect(fieldsOf(await readBack(third.id))).toEqual({
      ...fieldsOf(third),
      lastCheck: { ok: true, checkedAt: first.createdAt },
    });
  });
});

describe('a grouped PostgreSQL create refused for one row (refusedForARow)', () => {
  it('is told by the SQLSTATE, whatever language the severity is in', () => {
    for (const severity of ['ERROR', 'FEHLER', 'ERREUR', undefined])
      for (const code of ['23505', '23503', '22001', '40P01', '40001'])
        expect(refusedForARow({ code, severity, message: 'x' }), `${code} ${severity}`).toBe(true);
  });

  it('is not a failure that may have come after the commit', () => {
    for (const error of [
      { code: '57P01' }, // admin shutdown
      { code: '08006' }, // connection failure
      { code: '53300' }, // too many connections
      { code: 'ECONNRESET' },
      { code: '2350' },
      { code: 23505 },
      new Error('Query read timeout'),
      null,
      'error',
    ])
      expect(refusedForARow(error), JSON.stringify(error)).toBe(false);
  });
});
