import type { ConnectorType } from './define.js';
import { autotask } from './types/autotask/index.js';
import { dingtalk } from './types/dingtalk/index.js';
import { discord } from './types/discord/index.js';
import { dynamic } from './types/dynamic/index.js';
import { github } from './types/github/index.js';
import { googleChatBot } from './types/google_chat_bot/index.js';
import { jira } from './types/jira/index.js';
import { mattermost } from './types/mattermost/index.js';
import { microsoftTeamsBot } from './types/microsoft_teams_bot/index.js';
import { servicenow } from './types/servicenow/index.js';
import { slack } from './types/slack/index.js';
import { topdesk } from './types/topdesk/index.js';
import { zabbix } from './types/zabbix/index.js';
import { zammad } from './types/zammad/index.js';
import { zendesk } from './types/zendesk/index.js';
import { zoomChat } from './types/zoom_chat/index.js';

/**
 * Every connector type: the spec's `ConnectorType` enum first, in its order. A new type is a folder in
 * types/ (its declaration and its fixture) and a line here.
 */
const registered = [
  jira,
  microsoftTeamsBot,
  servicenow,
  slack,
  zendesk,
  discord,
  github,
  topdesk,
  zammad,
  mattermost,
  zoomChat,
  dingtalk,
  dynamic,
  zabbix,
  autotask,
  googleChatBot,
] as const;

/** The `type` of a connector: one of the registered ids. */
export type ConnectorTypeId = (typeof registered)[number]['id'];

/** A registered type, as code that handles every type sees it. */
export type RegisteredType = ConnectorType<ConnectorTypeId>;

export const connectorTypes: readonly RegisteredType[] = registered;

/** Keyed by `unknown`, so that any value from a body can be looked up: only a registered id finds a type. */
const byId: ReadonlyMap<unknown, RegisteredType> = new Map(connectorTypes.map((type) => [type.id, type]));

export const connectorTypeIds: readonly ConnectorTypeId[] = connectorTypes.map((type) => type.id);

/** The type of an id from outside (a request body, a row); undefined when none is registered. */
export function findConnectorType(id: unknown): RegisteredType | undefined {
  return byId.get(id);
}

/**
 * Stored data (a connector row, a recorded response) names a type that is not registered: a type
 * was removed from the registry, or the row was written by other means. A bug or an operator's
 * mistake, never the caller's: answered 500 without detail, and logged with this message.
 */
export class UnknownConnectorTypeError extends Error {
  constructor(typeId: string, where: string) {
    super(`${where} has type ${JSON.stringify(typeId)}, which no registered connector type has`);
    this.name = 'UnknownConnectorTypeError';
  }
}

/** The type of stored data, resolved once as it is read; `where` names the data for the log. */
export function storedConnectorType(typeId: string, where: string): RegisteredType {
  const type = byId.get(typeId);
  if (!type) throw new UnknownConnectorTypeError(typeId, where);
  return type;
}
