/**
 * The real Alertmanager (Debian's prometheus-alertmanager 0.25) posting to a real `plugboard
 * serve`, configured with the README's alertmanager.yml (group timings shortened): a firing alert
 * becomes an ALERT delivered through a dynamic connector to a local target, its resolution a
 * RESOLVE with the same alertKey. Needs `npm run build` first. Outside CI, skipped with the reason
 * when the binary is missing (.ci/run installs it).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connector } from '../src/connectors/schemas.js';
import { Target } from './delivery-helpers.js';
import { freePort, sandboxPerTest, waitFor } from './process-helpers.js';

const BINARY = '/usr/bin/prometheus-alertmanager';
const present = existsSync(BINARY);
const missing = !present && process.env.CI !== 'true';
if (missing)
  console.warn(
    `Alertmanager test skipped: ${BINARY} is not installed (apt-get install prometheus-alertmanager)`,
  );

const sandbox = sandboxPerTest();
const API_KEY = 'alertmanager-test-key-0123456789ab';

/** The alertmanager.yml of README "Alertmanager", as written there. */
function readmeSnippet(): string {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Alertmanager'));
  const match = /```yaml\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error('README "Alertmanager" has no yaml block');
  return match[1];
}

describe('the real Alertmanager', () => {
  it.skipIf(missing)(
    'delivers a firing alert and its resolution through the README configuration',
    async () => {
      const target = await new Target().start();
      const box = sandbox();
      const server = await box.startServer({
        PLUGBOARD_API_KEY: API_KEY,
        PLUGBOARD_ALLOWED_TARGETS: '127.0.0.1',
      });
      let alertmanager: ReturnType<typeof spawn> | undefined;
      try {
        const connector = (
          await server.call('POST', '/api/connectors', {
            key: API_KEY,
            body: { name: 'hook', type: 'dynamic', params: { url: `${target.url}/hook` } },
          })
        ).body as Connector;
        const snippet = readmeSnippet();
        expect(snippet).toContain('http://127.0.0.1:8080/api/connectors/CONNECTOR_ID/alertmanager');
        const config = snippet
          .replace('http://127.0.0.1:8080', server.url)
          .replace('CONNECTOR_ID', connector.id)
          // dynamic takes no options: the README's jira option is left out here.
          .replace('/alertmanager?project=OPS', '/alertmanager')
          .replace('pb_YOUR_WRITE_KEY', API_KEY)
          .replace('group_wait: 30s', 'group_wait: 1s')
          .replace('group_interval: 5m', 'group_interval: 1s');
        const configFile = join(box.dir, 'alertmanager.yml');
        writeFileSync(configFile, config);
        const port = await freePort();
        const am = spawn(
          BINARY,
          [
            `--config.file=${configFile}`,
            `--storage.path=${join(box.dir, 'am-data')}`,
            `--web.listen-address=127.0.0.1:${port}`,
            '--cluster.listen-address=',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        alertmanager = am;
        let output = '';
        am.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk;
        });
        const api = `http://127.0.0.1:${port}/api/v2/alerts`;
        await waitFor(
          `Alertmanager to listen (${output.slice(-500)})`,
          async () =>
            (await fetch(`http://127.0.0.1:${port}/-/ready`).catch(() => undefined))?.ok ? true : undefined,
          { timeoutMs: 15_000, intervalMs: 100 },
        );
        const alert = (endsAt?: string) => [
          {
            labels: { alertname: 'HighCPU', instance: 'db-1', severity: 'critical' },
            annotations: { summary: 'CPU on db-1 is at 97 %', description: 'load above 20' },
            generatorURL: 'http://prometheus.example.com/graph?g0.expr=cpu',
            startsAt: new Date(Date.now() - 60_000).toISOString(),
            ...(endsAt ? { endsAt } : {}),
          },
        ];
        const post = async (body: unknown) => {
          const response = await fetch(api, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          expect(response.status).toBe(200);
        };
        await post(alert());
        const firing = await waitFor(
          `the firing notification to be delivered (Alertmanager said: ${output.slice(-800)})`,
          () => target.seenAt('hook').find((s) => s.body.includes('"ALERT"')),
          { timeoutMs: 30_000, intervalMs: 100 },
        );
        const sent = JSON.parse(firing.body) as { event?: Record<string, unknown> } & Record<string, unknown>;
        const event = (sent.event ?? sent) as Record<string, unknown>;
        expect(event).toMatchObject({
          eventType: 'ALERT',
          summary: '[FIRING:1] CPU on db-1 is at 97 %',
          priority: 'HIGH',
        });
        expect(String(event.details)).toContain('instance=db-1');
        const alertKey = event.alertKey;
        expect(alertKey).toContain('alertname="HighCPU"');

        await post(alert(new Date(Date.now() - 1_000).toISOString()));
        const resolved = await waitFor(
          'the resolved notification to be delivered',
          () => target.seenAt('hook').find((s) => s.body.includes('"RESOLVE"')),
          { timeoutMs: 30_000, intervalMs: 100 },
        );
        const resolvedBody = JSON.parse(resolved.body) as { event?: Record<string, unknown> } & Record<
          string,
          unknown
        >;
        expect((resolvedBody.event ?? resolvedBody) as Record<string, unknown>).toMatchObject({
          eventType: 'RESOLVE',
          alertKey,
        });
      } finally {
        alertmanager?.kill('SIGKILL');
        await target.close();
      }
    },
    90_000,
  );
});
