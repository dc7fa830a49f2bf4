/**
 * Connector bodies for the benchmark, derived from the compiled type modules (dist/connectors), so
 * that seeded rows, created connectors and the baseline's constant answer all look like the real
 * thing: every type in turn, every required param, optional params on every other connector,
 * URLs that pass validation (DingTalk's carries an access_token), tokens of realistic length.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** @import { ConnectorType } from '../../src/connectors/define.js' */

const root = fileURLToPath(new URL('../..', import.meta.url));
/** @type {typeof import('../../src/connectors/registry.js')} the compiled registry, with the source's types */
const registry = await import(new URL('dist/connectors/registry.js', `file://${root}`).href);
const { connectorTypes } = registry;

export { connectorTypes };

const token = () => randomBytes(24).toString('base64url');

/**
 * Params of connector number `n` of `type`.
 * @param {ConnectorType} type
 * @param {number} n
 * @returns {Record<string, string>}
 */
export function paramsFor(type, n) {
  /** @type {Record<string, string>} */
  const params = {};
  const host = `${type.id.replaceAll('_', '-')}-${n % 997}.example.com`;
  for (const name of type.paramNames) {
    const spec = type.params[name];
    if (!spec) continue;
    if (!spec.required && n % 2 === 1) continue;
    if (spec.format === 'url') {
      params[name] = spec.secret
        ? `https://${host}/hooks/${n}?access_token=${token()}`
        : `https://${host}${name === 'url' ? '' : `/${name}/${n}`}`;
    } else if (spec.secret) {
      params[name] = name === 'authorization' ? `Bearer ${token()}` : token();
    } else {
      params[name] = name === 'email' ? `bot-${n}@example.com` : `svc-user-${n}`;
    }
  }
  return params;
}

/**
 * Connector number `n`: its type cycles through every type.
 * @param {number} n
 */
export function connectorFor(n, namePrefix = 'connector') {
  const type = /** @type {ConnectorType} */ (connectorTypes[n % connectorTypes.length]);
  return { type, name: `${namePrefix} ${type.displayName} ${n}`, params: paramsFor(type, n) };
}

/**
 * The API body of a connector (POST or PUT).
 * @param {ConnectorType} type
 * @param {string} name
 * @param {number} n
 */
export function bodyFor(type, name, n) {
  return JSON.stringify({ name, type: type.id, params: paramsFor(type, n) });
}

/** @param {string} id */
export function findType(id) {
  return connectorTypes.find((type) => type.id === id);
}
