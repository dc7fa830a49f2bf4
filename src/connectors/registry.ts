import type { ConnectorType } from './define.js';
import { autotask } from './types/autotask.js';
import { dingtalk } from './types/dingtalk.js';
import { discord } from './types/discord.js';
import { dynamic } from './types/dynamic.js';
import { github } from './types/github.js';
import { googleChatBot } from './types/google-chat-bot.js';
import { jira } from './types/jira.js';
import { mattermost } from './types/mattermost.js';
import { microsoftTeamsBot } from './types/microsoft-teams-bot.js';
import { servicenow } from './types/servicenow.js';
import { slack } from './types/slack.js';
import { topdesk } from './types/topdesk.js';
import { zabbix } from './types/zabbix.js';
import { zammad } from './types/zammad.js';
import { zendesk } from './types/zendesk.js';
import { zoomChat } from './types/zoom-chat.js';

/** Every connector type, in the order of the spec's `ConnectorType` enum. */
export const connectorTypes: readonly ConnectorType[] = [
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
];

const byId: ReadonlyMap<string, ConnectorType> = new Map(connectorTypes.map((type) => [type.id, type]));

export const connectorTypeIds: readonly string[] = connectorTypes.map((type) => type.id);

export function findConnectorType(id: string): ConnectorType | undefined {
  return byId.get(id);
}
