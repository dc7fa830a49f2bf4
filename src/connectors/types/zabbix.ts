import { defineConnectorType, param } from '../define.js';

export const zabbix = defineConnectorType({
  id: 'zabbix',
  displayName: 'Zabbix',
  description: 'Acknowledges and updates Zabbix problems through its JSON-RPC API.',
  params: {
    url: param.url('URL of the Zabbix frontend, e.g. https://zabbix.example.com'),
    apiKey: param.secret('Zabbix API token'),
  },
});
