import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/database.js';
import { parseDatabaseUrl } from '../src/store/location.js';
import { dropPostgresSchema, newPostgresLocation } from './backend.js';

/** Waits until `check` holds, for at most 5 s. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('not within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the PostgreSQL pool's warm-up at a server's start", () => {
  const schemas: string[] = [];
  afterAll(async () => {
    for (const schema of schemas) await dropPostgresSchema(schema);
  });

  it('opens connections up to the count asked for, returns them idle, and never past the pool size', async () => {
    const location = await newPostgresLocation();
    if (location.schema) schemas.push(location.schema);
    const handle = openDatabase(location, { poolSize: 2 });
    try {
      expect(handle.warm).toBeTypeOf('function');
      handle.warm?.(3);
      await until(() => handle.poolUse?.().idle === 2);
      expect(handle.poolUse?.()).toMatchObject({ total: 2, idle: 2, waiting: 0 });
      // Asked again with the pool full: nothing more is opened.
      handle.warm?.(2);
      expect(handle.poolUse?.()).toMatchObject({ total: 2, idle: 2 });
      await expect(handle.ping()).resolves.toBeUndefined();
    } finally {
      await handle.close();
    }
  });

  it('leaves a database that does not answer to the queries that need it (no unhandled rejection)', async () => {
    const handle = openDatabase(parseDatabaseUrl('postgres://postgres@127.0.0.1:1/none'), { poolSize: 3 });
    try {
      handle.warm?.(2);
      await until(() => handle.poolUse?.().total === 0);
      await expect(handle.ping()).rejects.toThrow();
    } finally {
      await handle.close();
    }
  });
});
