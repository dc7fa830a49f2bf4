import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WITHHELD } from '../../src/connectors/checks/redact.js';
import type { CheckResult } from '../../src/connectors/checks/run.js';
import { disguises } from '../disguises.js';
import { buildTestApp, json, type TestContext } from '../helpers.js';

// Issue 11, finding 4: a Jira target echoes the password in each of the table's encodings, in a
// JSON error and on an HTML page. The stored lastCheck (what read keys see, and the last_check
// column) holds none of them: the target's words are withheld whole, or the exact form replaced.

const USER = 'me@x.io';
const PASSWORD = 'S3cret/Pa"ssw0rd~?é';
const TABLE = disguises(PASSWORD, USER);

let target: Server;
let base = '';
let t: TestContext;

beforeAll(async () => {
  target = createServer((req, res) => {
    const [, kind, index] = (req.url ?? '').split('/');
    const encoded = TABLE[Number(index)]?.[1] ?? '';
    if (kind === 'html') {
      res.writeHead(401, { 'content-type': 'text/html' });
      res.end(`<html><body><h1>Bad password: ${encoded}</h1></body></html>`);
    } else {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errorMessages: [`Bad password: ${encoded}`] }));
    }
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  t = await buildTestApp({ checks: { allowedTargets: ['127.0.0.1'], timeoutMs: 5_000 } });
});
afterAll(async () => {
  await t.close();
  await new Promise((resolve) => target.close(resolve));
});

describe.each(['json', 'html'])('a target echoing the password in %s', (kind) => {
  it(`stores none of the ${TABLE.length} encodings in last_check`, async () => {
    const ids: string[] = [];
    for (const [index] of TABLE.entries()) {
      const created = await t.call('POST', '/api/connectors', {
        body: {
          name: `${kind} ${index}`,
          type: 'jira',
          params: { url: `${base}/${kind}/${index}`, email: USER, password: PASSWORD },
        },
      });
      expect(created.statusCode, created.body).toBeLessThan(300);
      const { id } = json<{ id: string }>(created);
      ids.push(id);
      const checked = json<CheckResult>(await t.call('POST', `/api/connectors/${id}/check`));
      expect(checked.status).toBe('failed');
      const [name] = TABLE[index] ?? [];
      // What the target said: withheld whole, or with the credential's exact form replaced.
      expect(
        [`(HTTP 401 Unauthorized: ${WITHHELD})`, '(HTTP 401 Unauthorized: Bad password: ********)'].some(
          (end) => checked.message.endsWith(end),
        ),
        `${name}: ${checked.message}`,
      ).toBe(true);
    }
    const rows = await t.database.db
      .selectFrom('connectors')
      .select(['id', 'last_check'])
      .where('id', 'in', ids)
      .execute();
    expect(rows).toHaveLength(TABLE.length);
    for (const row of rows) {
      const stored = row.last_check ?? '';
      expect(stored).toContain('Jira refused the credentials');
      for (const [name, encoded] of TABLE) {
        expect(stored.includes(encoded), `${name} in ${stored}`).toBe(false);
        expect(stored.includes(JSON.stringify(encoded).slice(1, -1)), `${name} (JSON) in ${stored}`).toBe(
          false,
        );
      }
    }
  });
});
