import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/database.js';
import { dropPostgresSchema, newPostgresLocation } from './backend.js';

describe('the PostgreSQL health check (GET /healthz)', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    for (const schema of schemas) await dropPostgresSchema(schema);
  });

  it('passes on a writable database and fails on a read-only one', async () => {
    const location = await newPostgresLocation();
    if (location.schema) schemas.push(location.schema);
    // One connection, so that the session setting below is the one the ping uses.
    const handle = openDatabase(location, { poolSize: 1 });
    try {
      await expect(handle.ping()).resolves.toBeUndefined();
      await sql`set default_transaction_read_only = on`.execute(handle.db);
      await expect(handle.ping()).rejects.toThrow(/read-only/);
      await sql`set default_transaction_read_only = off`.execute(handle.db);
      await expect(handle.ping()).resolves.toBeUndefined();
    } finally {
      await handle.close();
    }
  });
});
