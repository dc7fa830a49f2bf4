import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connectorTypeIds, connectorTypes } from './registry.js';

/** shared/design/connector-types.md, transcribed: `*` required, `!` secret. */
const designTable: Record<string, Record<string, string>> = {
  jira: { url: '*', email: '*', password: '*!' },
  microsoft_teams_bot: { url: '!' },
  servicenow: { url: '*', username: '*', password: '*!' },
  slack: {},
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
  autotask: { url: '*', email: '*', password: '*!' },
  google_chat_bot: {},
};

describe('connector type registry', () => {
  it("has exactly the spec's ConnectorType enum, in its order", () => {
    const spec = JSON.parse(
      readFileSync(new URL('../../spec/ilert-connectors.openapi.json', import.meta.url), 'utf8'),
    );
    expect(connectorTypeIds).toEqual(spec.components.schemas.ConnectorType.enum);
  });

  it.each(connectorTypes.map((type) => [type.id, type] as const))(
    '%s declares the params of the design table',
    (id, type) => {
      const expected = designTable[id] ?? {};
      const declared = Object.fromEntries(
        Object.entries(type.params).map(([name, spec]) => [
          name,
          `${spec.required ? '*' : ''}${spec.secret ? '!' : ''}`,
        ]),
      );
      expect(declared).toEqual(expected);
      for (const name of type.paramNames) {
        if (name === 'url' || name === 'responseUrl') expect(type.params[name]?.format).toBe('url');
      }
    },
  );

  it('derives unique schema names', () => {
    expect(new Set(connectorTypes.map((type) => type.schemaName)).size).toBe(connectorTypes.length);
  });
});
