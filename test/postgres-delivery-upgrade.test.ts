/**
 * A rolling upgrade on PostgreSQL (docs/scale-out.md): a newer version's additive migration adds a
 * column to `deliveries` while an older instance keeps accepting. The accept's insert runs as a
 * named prepared statement on each pooled connection (compiled.ts); had it returned `*`, PostgreSQL
 * would refuse the saved plan on every later accept ("cached plan must not change result type").
 */
import { sql } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createDeliveryStore } from '../src/store/delivery-store.js';
import { openTestDatabase, type TestDatabase } from './backend.js';

let database: TestDatabase;
let accountId: number;
beforeEach(async () => {
  database = await openTestDatabase();
  accountId = (
    await database.handle.db
      .insertInto('accounts')
      .values({ name: 'acme', created_at: new Date().toISOString() })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
});
afterEach(async () => {
  await database.dispose();
});

it('keeps accepting deliveries after a column is added to deliveries', async () => {
  const { handle } = database;
  const store = createDeliveryStore(handle.db, handle.relaxed, handle.transact);
  const connector = { id: 'connector-1', type: 'dynamic' };
  const event = { eventType: 'ALERT', summary: 'disk full', alertKey: 'disk' } as const;
  // Every pooled connection prepares the accept's statement before the migration.
  const before = await Promise.all(
    Array.from({ length: 8 }, () => store.enqueue(accountId, connector, event, {}, 1000)),
  );
  expect(before.every((delivery) => delivery.state === 'queued')).toBe(true);
  await sql`alter table deliveries add column priority integer not null default 0`.execute(handle.db);
  const after = await Promise.all(
    Array.from({ length: 8 }, () => store.enqueue(accountId, connector, event, {}, 1000)),
  );
  expect(after.map((delivery) => delivery.state)).toEqual(Array(8).fill('queued'));
});
