// Debian's Chromium driven by playwright-core (which downloads no browser here): how the browser
// tests (test/browser/) and `npm run screenshots` start it, and what they watch on every page.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** Debian's package `chromium`; PLUGBOARD_CHROMIUM points elsewhere. */
export const CHROMIUM_PATH = process.env.PLUGBOARD_CHROMIUM || '/usr/bin/chromium';

/** Headless, no sandbox (root in CI), and no calls of its own to anywhere (updates, first-run pages). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** Why Chromium cannot be started here, or undefined when it can. */
export function chromiumMissing() {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set PLUGBOARD_CHROMIUM)`;
}

export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/**
 * Watches a browser context: every console error, uncaught page error and request that leaves
 * `origin` (which is refused, never sent) is written into the returned list.
 * @param {import('playwright-core').BrowserContext} context
 * @param {string} origin e.g. http://127.0.0.1:4321
 * @param {string[]} [problems] the list to write into
 * @returns {Promise<string[]>}
 */
export async function watchContext(context, origin, problems = []) {
  await context.route(
    (url) => url.origin !== origin && url.protocol !== 'data:',
    async (route) => {
      problems.push(`request leaving the origin: ${route.request().method()} ${route.request().url()}`);
      await route.abort('blockedbyclient');
    },
  );
  context.on('page', (page) => watchPage(page, problems));
  for (const page of context.pages()) watchPage(page, problems);
  return problems;
}

/**
 * @param {import('playwright-core').Page} page
 * @param {string[]} problems
 */
function watchPage(page, problems) {
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error on ${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
}
