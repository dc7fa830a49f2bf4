import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { DeliveryEvent } from '../connectors/delivery.js';
import { isHttpUrl } from '../connectors/validate.js';
import { type ErrorDetail, errors, summarizeProblems } from '../errors.js';
import { isRecord } from '../is-record.js';

/**
 * Alertmanager's webhook payload (version 4), as Alertmanager 0.25 posts it to a
 * `webhook_configs` receiver; documented at
 * https://prometheus.io/docs/alerting/latest/configuration/#webhook_config.
 */
const Labels = Type.Record(Type.String(), Type.String());
const AlertSchema = Type.Object({
  status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
  labels: Labels,
  annotations: Labels,
  startsAt: Type.Optional(Type.String()),
  endsAt: Type.Optional(Type.String()),
  generatorURL: Type.Optional(Type.String()),
  fingerprint: Type.Optional(Type.String()),
});
export const AlertmanagerPayloadSchema = Type.Object(
  {
    version: Type.Literal('4'),
    groupKey: Type.String(),
    truncatedAlerts: Type.Optional(Type.Integer()),
    status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
    receiver: Type.String(),
    groupLabels: Labels,
    commonLabels: Labels,
    commonAnnotations: Labels,
    externalURL: Type.String(),
    alerts: Type.Array(AlertSchema),
  },
  { description: "Alertmanager's webhook payload, version 4" },
);

interface Alert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

interface Payload {
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: Alert[];
}

const MAX_SUMMARY = 1024;
const MAX_DETAILS = 32_768;
const MAX_KEY = 255;
const MAX_LINKS = 20;

function strings(value: unknown, field: string, problems: ErrorDetail[]): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value)) {
    problems.push({ field, message: 'must be an object of strings' });
    return {};
  }
  const out: Record<string, string> = {};
  for (const [key, text] of Object.entries(value)) {
    if (typeof text === 'string') out[key] = text;
    else problems.push({ field: `${field}/${key}`, message: 'must be a string' });
  }
  return out;
}

/** Reads the payload; a 400 names every problem (it is not Alertmanager's, or not version 4). */
function readPayload(body: unknown): Payload {
  if (!isRecord(body)) {
    throw errors.validation("request body must be Alertmanager's webhook payload (a JSON object)", [
      { field: '', message: 'must be an object' },
    ]);
  }
  const problems: ErrorDetail[] = [];
  if (body.version !== '4') {
    problems.push({
      field: '/version',
      message: 'must be "4": this route takes the webhook payload of Alertmanager 0.16 and later',
    });
  }
  const status = body.status;
  if (status !== 'firing' && status !== 'resolved')
    problems.push({ field: '/status', message: 'must be firing or resolved' });
  if (typeof body.groupKey !== 'string' || body.groupKey === '')
    problems.push({ field: '/groupKey', message: 'is required, a non-empty string' });
  if (!Array.isArray(body.alerts)) problems.push({ field: '/alerts', message: 'is required, an array' });
  const alerts: Alert[] = [];
  for (const [i, alert] of (Array.isArray(body.alerts) ? body.alerts : []).entries()) {
    if (!isRecord(alert)) {
      problems.push({ field: `/alerts/${i}`, message: 'must be an object' });
      continue;
    }
    alerts.push({
      status: typeof alert.status === 'string' ? alert.status : 'firing',
      labels: strings(alert.labels, `/alerts/${i}/labels`, problems),
      annotations: strings(alert.annotations, `/alerts/${i}/annotations`, problems),
      ...(typeof alert.startsAt === 'string' ? { startsAt: alert.startsAt } : {}),
      ...(typeof alert.endsAt === 'string' ? { endsAt: alert.endsAt } : {}),
      ...(typeof alert.generatorURL === 'string' ? { generatorURL: alert.generatorURL } : {}),
    });
  }
  const payload: Payload = {
    groupKey: typeof body.groupKey === 'string' ? body.groupKey : '',
    truncatedAlerts: typeof body.truncatedAlerts === 'number' ? body.truncatedAlerts : 0,
    status: status === 'resolved' ? 'resolved' : 'firing',
    receiver: typeof body.receiver === 'string' ? body.receiver : '',
    groupLabels: strings(body.groupLabels, '/groupLabels', problems),
    commonLabels: strings(body.commonLabels, '/commonLabels', problems),
    commonAnnotations: strings(body.commonAnnotations, '/commonAnnotations', problems),
    externalURL: typeof body.externalURL === 'string' ? body.externalURL : '',
    alerts,
  };
  if (problems.length > 0) {
    throw errors.validation(`not an Alertmanager webhook payload: ${summarizeProblems(problems)}`, problems);
  }
  return payload;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function labelList(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
}

/** The group key as an alertKey: itself when it fits, else a digest of it (the same group, the same key). */
function alertKeyOf(groupKey: string): string {
  if (groupKey.length <= MAX_KEY) return groupKey;
  return `alertmanager:${createHash('sha256').update(groupKey).digest('hex')}`;
}

const HIGH = new Set(['critical', 'page', 'high', 'error', 'emergency', 'alert']);

/**
 * One notification as one event: `alertKey` from the group key (so a ticket target keeps one ticket
 * per group, as jiralert does), firing → ALERT and resolved → RESOLVE, the summary from the common
 * `summary` annotation (else the alert name), details listing every alert with its labels and
 * annotations, links to each alert's generatorURL and to Alertmanager.
 */
export function eventFromAlertmanager(body: unknown): DeliveryEvent {
  const payload = readPayload(body);
  const name =
    payload.commonLabels.alertname ?? payload.groupLabels.alertname ?? payload.alerts[0]?.labels.alertname;
  const headline =
    payload.commonAnnotations.summary ??
    payload.commonAnnotations.title ??
    name ??
    'Alertmanager notification';
  const firing = payload.alerts.filter((a) => a.status === 'firing').length;
  const count = payload.status === 'firing' ? `[FIRING:${firing}] ` : '[RESOLVED] ';
  const lines: string[] = [];
  if (payload.commonAnnotations.description) lines.push(payload.commonAnnotations.description, '');
  for (const alert of payload.alerts) {
    lines.push(`- [${alert.status}] ${labelList(alert.labels)}`);
    for (const [key, value] of Object.entries(alert.annotations)) lines.push(`  ${key}: ${value}`);
    if (alert.startsAt) lines.push(`  startsAt: ${alert.startsAt}`);
  }
  if (payload.truncatedAlerts > 0)
    lines.push(`(${payload.truncatedAlerts} more alerts not sent by Alertmanager)`);
  const links: { href: string; text: string }[] = [];
  for (const alert of payload.alerts) {
    const href = alert.generatorURL;
    if (href && isHttpUrl(href) && !links.some((l) => l.href === href) && links.length < MAX_LINKS - 1)
      links.push({ href, text: `Source: ${alert.labels.alertname ?? 'alert'}` });
  }
  if (isHttpUrl(payload.externalURL)) links.push({ href: payload.externalURL, text: 'Alertmanager' });
  const severity = payload.commonLabels.severity?.toLowerCase();
  return {
    eventType: payload.status === 'firing' ? 'ALERT' : 'RESOLVE',
    summary: cut(`${count}${headline}`, MAX_SUMMARY),
    details: cut(lines.join('\n'), MAX_DETAILS),
    alertKey: alertKeyOf(payload.groupKey),
    ...(severity === undefined ? {} : { priority: HIGH.has(severity) ? 'HIGH' : 'LOW' }),
    ...(links.length > 0 ? { links } : {}),
    customDetails: {
      receiver: payload.receiver,
      groupLabels: payload.groupLabels,
      commonLabels: payload.commonLabels,
      commonAnnotations: payload.commonAnnotations,
      ...(payload.truncatedAlerts > 0 ? { truncatedAlerts: payload.truncatedAlerts } : {}),
    },
  };
}
