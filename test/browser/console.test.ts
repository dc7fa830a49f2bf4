/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium, watchContext } from '../../scripts/chromium.mjs';
import type { Params } from '../../src/connectors/checks/types.js';
import { CREDENTIALS, loadFixtures } from '../../src/connectors/fixture.js';
import { baseFor, type FakeTargets, paramsFor, startFakeTargets } from '../fake-targets.js';
import { buildTestApp, json, type TestContext } from '../helpers.js';

/**
 * The console in Debian's Chromium (scripts/chromium.mjs): what a person does with it, by the
 * labels and roles they see. Every test fails on a console error of the browser, an uncaught
 * error, or a request to anywhere but the server (refused before it leaves), except the errors a
 * step expects (Chromium logs each 4xx answer of the API as one). With PLUGBOARD_SCREENSHOTS=1
 * (`npm run screenshots`) the main screens are saved into docs/.
 */

const missing = chromiumMissing();
// Outside CI a machine without Chromium skips these, saying why; with CI=true they run, and fail.
const skip = missing !== undefined && process.env.CI !== 'true';
if (skip) console.warn(`browser tests skipped: ${missing} (CI=true makes them run and fail)`);
const screenshots = process.env.PLUGBOARD_SCREENSHOTS === '1';
const DOCS = new URL('../../docs/', import.meta.url);

// A loaded machine (2 cores, the suite beside) can take its time over the steps; none waits idle.
describe.skipIf(skip)('the console in Chromium', { timeout: 120_000 }, () => {
  let t: TestContext;
  let fake: FakeTargets;
  let browser: Browser;
  let origin: string;
  const fixtures = new Map<string, Params>();
  /** Open contexts of the current test, and what went wrong in them. */
  let contexts: BrowserContext[] = [];
  let problems: string[] = [];
  /** Problems a step provokes on purpose, each to be seen exactly once. */
  let expected: RegExp[] = [];

  beforeAll(async () => {
    fake = await startFakeTargets();
    t = await buildTestApp({ checks: { allowedTargets: ['127.0.0.1'], timeoutMs: 5_000 } });
    origin = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
    const loaded = await loadFixtures();
    for (const id of ['jira', 'discord'] as const) {
      const target = loaded.get(id)?.target;
      if (!target) throw new Error(`the ${id} fixture has no fake target`);
      fixtures.set(id, paramsFor(target, baseFor(fake, id, 'good'), 'good'));
    }
    fixtures.set('dynamic', { ...(loaded.get('dynamic')?.example ?? {}) });
    if (screenshots) mkdirSync(DOCS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fake?.close();
  });

  afterEach(async () => {
    for (const context of contexts) await context.close();
    contexts = [];
    const unexpected = problems.filter((problem) => {
      const at = expected.findIndex((pattern) => pattern.test(problem));
      if (at === -1) return true;
      expected.splice(at, 1);
      return false;
    });
    const unseen = expected.map(String);
    problems = [];
    expected = [];
    expect(unexpected, 'browser console errors, page errors or requests leaving the origin').toEqual([]);
    expect(unseen, 'expected browser errors that did not happen').toEqual([]);
  });

  /** A fresh browser tab (its own sessionStorage) at `width`, watched. */
  async function open(width = 1200, height = 800): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height }, reducedMotion: 'reduce' });
    contexts.push(context);
    await watchContext(context, origin, problems);
    return context.newPage();
  }

  /** Chromium's line for an API answer of this status, which a step provokes on purpose. */
  function expectAnswer(status: number) {
    expected.push(new RegExp(`Failed to load resource: the server responded with a status of ${status}\\b`));
  }

  async function signIn(page: Page, key: string) {
    await page.goto(`${origin}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Connectors' }).waitFor();
  }

  async function shoot(page: Page, name: string) {
    if (screenshots) await page.screenshot({ path: new URL(`${name}.png`, DOCS).pathname, fullPage: true });
  }

  /** Fills a connector form: name and every param given. */
  async function fill(page: Page, name: string, params: Params) {
    await page.locator('#field-name').fill(name);
    for (const [param, value] of Object.entries(params))
      await page.locator(`#field-params-${param}`).fill(value);
  }

  async function create(page: Page, type: string, name: string, params: Params) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Connectors' }).click();
    await page.getByRole('link', { name: 'New connector' }).click();
    await page.getByLabel('Type').selectOption(type);
    await fill(page, name, params);
    await page.getByRole('button', { name: 'Create connector' }).click();
    await page.getByRole('heading', { name, exact: true }).waitFor();
  }

  async function storedByName(name: string) {
    const response = await t.call('GET', `/api/connectors/name/${encodeURIComponent(name)}`);
    expect(response.statusCode).toBe(200);
    return json<{ id: string; params: Record<string, string>; lastCheck?: { ok: boolean } }>(response);
  }

  it('catches console errors and requests leaving the origin, which never leave', async () => {
    const page = await open();
    await page.goto(`${origin}/`);
    await page.evaluate(async () => {
      console.error('a console error on purpose');
      // The page's Content-Security-Policy stops this one before the network (and logs an error).
      await fetch('https://elsewhere.example/track').catch(() => undefined);
    });
    // A navigation is not under the page's policy: the watch refuses it.
    await expect(page.goto('https://elsewhere.example/')).rejects.toThrow(/ERR_BLOCKED_BY_CLIENT/);
    expect(problems).toContain(`console error on ${origin}/: a console error on purpose`);
    expect(problems.some((problem) => /violates .*Content Security Policy/.test(problem))).toBe(true);
    expect(problems).toContain('request leaving the origin: GET https://elsewhere.example/');
    // Seen and meant: the check after the test would fail on them otherwise.
    problems.length = 0;
  });

  it('a write key signs in, creates, sees a field error, checks, edits keeping the secret, finds, deletes and reads the audit trail', {
    timeout: 120_000,
  }, async () => {
    const page = await open();
    expectAnswer(401);
    await page.goto(`${origin}/`);
    await shoot(page, 'console-sign-in');
    await page.getByLabel('API key').fill('pb_not-a-key-of-this-server');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('unknown or revoked API key');

    await signIn(page, t.keys.write);
    const header = page.getByRole('banner');
    await expect.poll(() => header.textContent()).toContain('acme');
    expect(await header.textContent()).toContain('write key');
    expect(await page.evaluate(() => sessionStorage.getItem('plugboard.apiKey'))).toBe(t.keys.write);

    // Jira: a URL that is none, refused by the API, shown next to the URL field.
    const jira = fixtures.get('jira') ?? {};
    await page.getByRole('link', { name: 'New connector' }).click();
    await page.getByLabel('Type').selectOption('jira');
    for (const [param, info] of [
      ['url', { type: 'url', required: true }],
      ['password', { type: 'password', required: true }],
    ] as const) {
      const input = page.locator(`#field-params-${param}`);
      expect(await input.getAttribute('type')).toBe(info.type);
      expect(await input.getAttribute('aria-required')).toBe('true');
      expect(await page.locator(`#field-params-${param}-help`).textContent()).not.toBe('');
    }
    await fill(page, 'Jira prod', { ...jira, url: 'jira.example.com' });
    expectAnswer(400);
    await page.getByRole('button', { name: 'Create connector' }).click();
    const urlError = page.locator('#field-params-url-error');
    await urlError.waitFor();
    expect(await urlError.textContent()).toMatch(/absolute http: or https: URL/);
    expect(await page.locator('#field-params-url').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#field-params-url').getAttribute('aria-describedby')).toContain(
      'field-params-url-error',
    );
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('field-params-url');
    await shoot(page, 'console-field-error');

    // Check the form before saving, then save.
    await page.locator('#field-params-url').fill(jira.url ?? '');
    await page.getByRole('button', { name: 'Check before saving' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Check passed');
    await page.getByRole('button', { name: 'Create connector' }).click();
    await page.getByRole('heading', { name: 'Jira prod', exact: true }).waitFor();

    // Check the saved connector against the fake Jira.
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Check passed');
    expect((await storedByName('Jira prod')).lastCheck?.ok).toBe(true);
    await expect.poll(() => page.locator('.details .badge').first().textContent()).toBe('ok');
    expect(await page.content()).not.toContain(CREDENTIALS.good.password);
    await shoot(page, 'console-connector');

    // Edit: the name changes, the secret field is empty and the stored secret stays.
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit Jira prod' }).waitFor();
    const password = page.locator('#field-params-password');
    expect(await password.inputValue()).toBe('');
    expect(await password.getAttribute('placeholder')).toBe('leave empty to keep the stored value');
    expect(await page.getByLabel('Type').count()).toBe(0);
    await page.locator('#field-name').fill('Jira production');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Jira production', exact: true }).waitFor();
    expect((await storedByName('Jira production')).params.password).toBe(jira.password);

    // Discord (its webhook URL is a secret: a password input) and a dynamic webhook.
    await create(page, 'discord', 'Discord alerts', fixtures.get('discord') ?? {});
    await create(page, 'dynamic', 'Ops webhook', fixtures.get('dynamic') ?? {});
    expect((await storedByName('Discord alerts')).params.url).toBe(fixtures.get('discord')?.url);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Connectors' }).click();
    await page.getByRole('heading', { name: 'Connectors' }).waitFor();
    const rows = page.locator('table.list tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.first().textContent()).toContain('Jira production');
    expect(await rows.first().textContent()).toContain('ok');
    expect(await rows.nth(1).textContent()).toContain('not checked');
    await shoot(page, 'console-connectors');

    // Find by name: a miss says so, a hit opens the connector.
    await page.getByLabel('Find by name').fill('Nobody');
    expectAnswer(404);
    await page.getByRole('button', { name: 'Find' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('No connector is named “Nobody”');
    await page.getByLabel('Find by name').fill('Discord alerts');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('heading', { name: 'Discord alerts', exact: true }).waitFor();

    // Delete, after a confirmation that names the connector.
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.getByRole('heading').textContent()).toBe('Delete “Discord alerts”?');
    await shoot(page, 'console-delete');
    await dialog.getByRole('button', { name: 'Delete Discord alerts' }).click();
    await page.getByRole('heading', { name: 'Connectors' }).waitFor();
    await expect.poll(() => rows.count()).toBe(2);
    expect((await t.call('GET', '/api/connectors/name/Discord%20alerts')).statusCode).toBe(404);

    // The audit trail, newest first.
    await page.getByRole('link', { name: 'Audit trail' }).click();
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
    const events = page.locator('table.list tbody tr');
    await expect.poll(() => events.count()).toBe(5);
    const lines = await events.allTextContents();
    expect(lines[0]).toMatch(/deleted.*Discord alerts/);
    expect(lines[1]).toMatch(/created.*Ops webhook/);
    expect(lines[2]).toMatch(/created.*Discord alerts/);
    expect(lines[3]).toMatch(/updated.*Jira production.*name/);
    expect(lines[4]).toMatch(/created.*Jira prod/);
    await shoot(page, 'console-audit');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Plugboard' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('a read key sees masked secrets and no write controls', async () => {
    const page = await open();
    await signIn(page, t.keys.read);
    const header = page.getByRole('banner');
    await expect.poll(() => header.textContent()).toContain('read-only key');
    expect(await page.getByRole('link', { name: 'New connector' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Audit trail' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Jira production' }).click();
    await page.getByRole('heading', { name: 'Jira production', exact: true }).waitFor();
    for (const name of ['Check', 'Edit', 'Delete']) {
      expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
      expect(await page.getByRole('link', { name, exact: true }).count(), name).toBe(0);
    }
    expect(await page.locator('.params .secret').textContent()).toContain('secret, not shown');
    expect(await page.content()).not.toContain(CREDENTIALS.good.password);
    await shoot(page, 'console-read-key');
    // Where a write page is asked for by its address, it says why not (and asks the API nothing).
    await page.goto(`${origin}/#/audit`);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('read-only');
  });

  it('sends a test event, shows its state and attempts, cancels and retries', async () => {
    const discord = fixtures.get('discord') ?? {};
    const made = await t.call('POST', '/api/connectors', {
      body: { type: 'discord', name: 'Discord on call', params: discord },
    });
    expect(made.statusCode).toBe(201);
    // A Discord whose server drops every connection: its deliveries wait to be retried.
    const dropped = await t.call('POST', '/api/connectors', {
      body: {
        type: 'discord',
        name: 'Discord unreachable',
        params: { url: `${fake.dropUrl}/api/webhooks/1/x` },
      },
    });
    expect(dropped.statusCode).toBe(201);

    const page = await open();
    await signIn(page, t.keys.write);
    await page.getByRole('link', { name: 'Discord on call' }).click();
    await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
    await page.getByText('No deliveries yet.').waitFor();
    await page.getByLabel('Summary').fill('Disk full on db-1');
    await page.getByRole('button', { name: 'Send test event' }).click();
    const rows = page.locator('.deliveries table.list tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    await expect
      .poll(() => rows.first().locator('.badge').textContent(), { timeout: 20_000 })
      .toBe('delivered');
    expect(await rows.first().textContent()).toContain('ALERT: Disk full on db-1');
    expect(await rows.first().locator('td[data-label="Attempts"]').textContent()).toMatch(/^1 /);
    await shoot(page, 'console-deliveries');

    // Delivery options that are not JSON are refused before anything is sent.
    await page.getByLabel('Delivery options (JSON, optional)').fill('project: OPS');
    await page.getByRole('button', { name: 'Send test event' }).click();
    await expect
      .poll(() => page.locator('#test-options-error').textContent())
      .toContain('must be a JSON object');
    await page.getByLabel('Delivery options (JSON, optional)').fill('');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Connectors' }).click();
    await page.getByRole('link', { name: 'Discord unreachable' }).click();
    await page.getByRole('button', { name: 'Send test event' }).click();
    await expect
      .poll(() => rows.first().locator('.badge').textContent(), { timeout: 20_000 })
      .toBe('retrying');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => rows.first().locator('.badge').textContent()).toBe('cancelled');
    await page.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => rows.first().locator('.badge').textContent()).not.toBe('cancelled');
    await expect
      .poll(() => rows.first().locator('.badge').textContent(), { timeout: 20_000 })
      .toBe('retrying');
    expect(
      Number((await rows.first().locator('td[data-label="Attempts"]').textContent())?.split(' ')[0]),
    ).toBeGreaterThanOrEqual(2);
    // Stop it: the worker would keep knocking until the app closes.
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => rows.first().locator('.badge').textContent()).toBe('cancelled');
  });

  it('renders the API reference from the served document, linked from the console', async () => {
    const page = await open();
    await signIn(page, t.keys.write);
    await page.getByRole('link', { name: 'API reference' }).click();
    await page.waitForURL(`${origin}/docs`);
    await page.locator('.opblock').first().waitFor();
    expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(12);
    expect(await page.locator('.info .title').textContent()).toContain('Plugboard');
    expect(await page.locator('.opblock-summary-path').allTextContents()).toContain('/connectors/{id}');
    await shoot(page, 'api-reference');
    await page.getByRole('link', { name: 'Console' }).click();
    await page.getByRole('heading', { name: 'Connectors' }).waitFor();
  });

  it('works by keyboard alone at phone width', async () => {
    const page = await open(375, 740);
    await page.goto(`${origin}/`);
    await page.getByRole('heading', { name: 'Sign in to Plugboard' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('api-key');
    await page.keyboard.type(t.keys.write);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Connectors' }).waitFor();
    // The focus starts at the page's heading; Tab walks the header first, in reading order.
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
    const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
    const backwards: string[] = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Shift+Tab');
      backwards.push(await focused());
    }
    expect(backwards).toEqual(['Sign out', 'API reference', 'Audit trail', 'Connectors', 'Plugboard']);
    await page.getByRole('heading', { name: 'Connectors' }).focus();
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('New connector');
    // Open a connector with the keyboard.
    await page.getByRole('link', { name: 'Jira production' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Jira production', exact: true }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'horizontal scrolling at 375 px').toBeLessThanOrEqual(0);
    await page.getByRole('link', { name: 'Connectors', exact: true }).first().click();
    await page.locator('table.list tbody tr').first().waitFor();
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
    ).toBeLessThanOrEqual(0);
    await shoot(page, 'console-phone');
  });
});
