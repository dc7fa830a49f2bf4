import { connect } from 'node:net';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connector } from '../../src/connectors/schemas.js';
import { testBackend } from '../backend.js';
import { buildTestApp, json, type TestContext, typeOf, validBody } from '../helpers.js';
import { waitFor } from '../process-helpers.js';

// PLUGBOARD_POSTGRES_READ_CACHE (src/config.ts): on PostgreSQL a server keeps the connectors it
// read and answers GET /api/connectors/{id} from them (before Fastify, over a socket) until
// PostgreSQL's notice of a change arrives; `off` reads the database on every request. To tell the
// two apart, a change is made behind the notices' back (the trigger of migration 0008 disabled):
// kept, the old connector is still served; not kept, the new one.

const jira = typeOf('jira');
let t: TestContext | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** GET over a socket (app.inject would skip the reads answered before Fastify); status and body. */
async function get(context: TestContext, path: string): Promise<{ status: number; body: string }> {
  const address = context.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  const socket = connect(address.port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer ${context.keys.write}\r\n\r\n`,
  );
  await new Promise((resolve) => socket.once('close', resolve));
  return { status: Number(received.slice(9, 12)), body: received.slice(received.indexOf('\r\n\r\n') + 4) };
}

/** Renames a connector in the database without a notice of it: the trigger is off meanwhile. */
async function renameUnnoticed(context: TestContext, id: string, name: string): Promise<void> {
  await context.database.db.transaction().execute(async (trx) => {
    await sql`alter table connectors disable trigger connector_changed`.execute(trx);
    await sql`update connectors set name = ${name} where id = ${id}`.execute(trx);
    await sql`alter table connectors enable trigger connector_changed`.execute(trx);
  });
}

async function servedName(setting: 'on' | 'off'): Promise<string> {
  t = await buildTestApp({ postgresReadCache: setting });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const context = t;
  const created = json<Connector>(
    await context.call('POST', '/api/connectors', { body: validBody(jira, 'before') }),
  );
  // Read; where the cache is on, until its LISTEN connection (up on first use) listens, then once
  // more, which keeps it.
  await waitFor(
    'the first reads',
    async () => {
      const read = await get(context, `/api/connectors/${created.id}`);
      expect(read.status).toBe(200);
      return setting === 'off' || context.database.connectorChanges?.listening ? true : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  expect((await get(context, `/api/connectors/${created.id}`)).status).toBe(200);
  await renameUnnoticed(context, created.id, 'after');
  return (JSON.parse((await get(context, `/api/connectors/${created.id}`)).body) as Connector).name;
}

describe.runIf(testBackend === 'postgres')('PLUGBOARD_POSTGRES_READ_CACHE', () => {
  it('on (the default): a connector read before is served as kept until a notice of its change', async () => {
    expect(await servedName('on')).toBe('before');
  });

  it('off: every GET reads the database, so even a change made without a notice is served', async () => {
    expect(await servedName('off')).toBe('after');
  });
});
