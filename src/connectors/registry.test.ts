import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connectorTypeIds, connectorTypes, findConnectorType } from './registry.js';

/**
 * /work/shared/design/connector-types.md, transcribed once (here): `*` required, `!` secret. The
 * design's decisions for the spec's types; every other test takes what a type declares from the
 * registry. slack and google_chat_bot gained an optional secret webhook `url` to deliver
 * (/work/shared/design/deliveries.md).
 */
const designTable: Record<string, Record<string, string>> = {
  jira: { url: '*', email: '*', password: '*!' },
  microsoft_teams_bot: { url: '!' },
  servicenow: { url: '*', username: '*', password: '*!' },
  slack: { url: '!' },
  zendesk: { url: '*', email: '*', apiKey: '*!' },
  discord: { url: '*!' },
  github: { apiKey: '*!' },
  topdesk: { url: '*', username: '*', password: '*!' },
  zammad: { url: '*', apiKey: '*!' },
  mattermost: { url: '*!' },
  zoom_chat: { url: '*!', authorization: '!' },
  dingtalk: { url: '*!', secret: '*!' },
  dynamic: { url: '*', responseUrl: '', authorization: '!' },
  zabbix: { url: '*', apiKey: '*!' },
  autotask: { url: '*', email: '*', password: '*!', integrationCode: '!' },
  google_chat_bot: { url: '!' },
};

const specEnum: string[] = JSON.parse(
  readFileSync(new URL('../../spec/ilert-connectors.openapi.json', import.meta.url), 'utf8'),
).components.schemas.ConnectorType.enum;

describe('connector type registry', () => {
  it("starts with the spec's ConnectorType enum, in its order (a type beyond the spec comes after)", () => {
    expect(connectorTypeIds.slice(0, specEnum.length)).toEqual(specEnum);
  });

  it('has a design table row for every type of the spec', () => {
    expect(Object.keys(designTable)).toEqual(specEnum);
  });

  it.each(Object.entries(designTable))('%s declares the params of the design table', (id, expected) => {
    const type = findConnectorType(id);
    const declared = Object.fromEntries(
      Object.entries(type?.params ?? {}).map(([name, spec]) => [
        name,
        `${spec.required ? '*' : ''}${spec.secret ? '!' : ''}`,
      ]),
    );
    expect(declared).toEqual(expected);
  });

  it.each(connectorTypes.map((type) => [type.id, type] as const))(
    '%s: its URL params are URLs',
    (_id, type) => {
      for (const name of type.paramNames) {
        if (/^url$|Url$/.test(name)) expect(type.params[name]?.format).toBe('url');
      }
    },
  );

  it('derives unique ids and schema names', () => {
    expect(new Set(connectorTypeIds).size).toBe(connectorTypes.length);
    expect(new Set(connectorTypes.map((type) => type.schemaName)).size).toBe(connectorTypes.length);
  });
});
