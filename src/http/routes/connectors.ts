import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RevealSecrets } from '../../config.js';
import { findConnectorType } from '../../connectors/registry.js';
import { ConnectorListSchema, ConnectorSchema } from '../../connectors/schemas.js';
import { keepStoredSecrets } from '../../connectors/secrets.js';
import { parseConnectorInput } from '../../connectors/validate.js';
import { errors } from '../../errors.js';
import type { Actor } from '../../store/audit-store.js';
import type { ConnectorStore, StoredConnector } from '../../store/connector-store.js';
import type { IdempotencyStore } from '../../store/idempotency-store.js';
import { principalOf } from '../auth.js';
import { etagOf, ifMatch } from '../conditional.js';
import { earlierFingerprint, fingerprint, idempotencyErrors, idempotencyKeyOf } from '../idempotency.js';
import { parsePage } from '../paging.js';
import { presentConnector, presentReplay } from '../present.js';

export interface ConnectorRoutesOptions {
  readonly store: ConnectorStore;
  readonly idempotency: IdempotencyStore;
  /** 200 as the spec says, or 201 for ilert's Go client and Terraform provider. */
  readonly createStatus: 200 | 201;
  readonly revealSecrets: RevealSecrets;
}

interface IdParams {
  id: string;
}

const one = { response: { 200: ConnectorSchema, 201: ConnectorSchema } };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A PUT body with the stored secrets put back where the client sent the placeholder (or, when
 * secrets are write-only, left them out): a client that read a masked connector can send it back.
 */
function withKeptSecrets(body: unknown, stored: StoredConnector, reveal: RevealSecrets): unknown {
  const type = findConnectorType(stored.type);
  if (!type || !isObject(body)) return body;
  const params = body.params === undefined && reveal === 'never' ? {} : body.params;
  if (!isObject(params)) return body;
  const kept = keepStoredSecrets(type, params, stored.params, { keepOmitted: reveal === 'never' });
  if (kept.refused.length > 0) {
    throw errors.validation(
      'the URL changed, so the stored secrets are not kept: send the secret params again with the new URL',
      kept.refused.map((name) => ({
        field: `/params/${name}`,
        message: 'must be sent again when the URL changes',
      })),
    );
  }
  return { ...body, params: kept.params };
}

export function connectorRoutes(
  app: FastifyInstance,
  { store, idempotency, createStatus, revealSecrets }: ConnectorRoutesOptions,
): void {
  const caller = (request: FastifyRequest) => {
    const principal = principalOf(request);
    const actor: Actor = { keyId: principal.keyId, keyLabel: principal.label };
    const present = (connector: StoredConnector) =>
      presentConnector(connector, principal.role, revealSecrets);
    const replayed = (body: unknown) => presentReplay(body, principal.role, revealSecrets);
    return { accountId: principal.accountId, actor, present, replayed };
  };

  app.get('/api/connectors', { schema: { response: { 200: ConnectorListSchema } } }, async (request) => {
    const { accountId, present } = caller(request);
    const { offset, limit } = parsePage(request.query);
    return (await store.list(accountId, offset, limit)).map(present);
  });

  app.post('/api/connectors', { schema: one }, async (request, reply) => {
    const { accountId, actor, present, replayed } = caller(request);
    const key = idempotencyKeyOf(request.headers['idempotency-key']);
    if (key === undefined) {
      const input = parseConnectorInput(request.body);
      const created = await store.create(accountId, actor, {
        type: input.type.id,
        name: input.name,
        params: input.params,
      });
      return reply.code(createStatus).send(tagged(reply, present(created)));
    }

    // With an Idempotency-Key: the first request with it creates, a retry replays its response.
    const outcome = await idempotency.run(
      { accountId, apiKeyId: actor.keyId },
      key,
      fingerprint(request.body),
      async (trx) => {
        const input = parseConnectorInput(request.body);
        const fields = { type: input.type.id, name: input.name, params: input.params };
        return { status: createStatus, body: present(await store.create(accountId, actor, fields, trx)) };
      },
      [earlierFingerprint(request.body)],
    );
    switch (outcome.kind) {
      case 'done':
        return reply.code(createStatus).send(tagged(reply, outcome.body));
      case 'replay':
        return reply
          .code(outcome.status === 201 ? 201 : 200)
          .header('Idempotent-Replayed', 'true')
          .send(tagged(reply, replayed(outcome.body)));
      case 'mismatch':
        throw idempotencyErrors.mismatch();
      case 'in-progress':
        throw idempotencyErrors.inProgress();
    }
  });

  app.get<{ Params: IdParams }>('/api/connectors/:id', { schema: one }, async (request, reply) => {
    const { accountId, present } = caller(request);
    const connector = await store.get(accountId, request.params.id);
    if (!connector) throw errors.connectorNotFound('id', request.params.id);
    return tagged(reply, present(connector));
  });

  app.get<{ Params: { name: string } }>(
    '/api/connectors/name/:name',
    { schema: one },
    async (request, reply) => {
      const { accountId, present } = caller(request);
      const connector = await store.getByName(accountId, request.params.name);
      if (!connector) throw errors.connectorNotFound('name', request.params.name);
      return tagged(reply, present(connector));
    },
  );

  app.put<{ Params: IdParams }>('/api/connectors/:id', { schema: one }, async (request, reply) => {
    const { accountId, actor, present } = caller(request);
    const { id } = request.params;
    const body: unknown = request.body;
    const precondition = ifMatch(request.headers['if-match'], present);
    const updated = await store.update(accountId, actor, id, (current) => {
      // The precondition first (RFC 9110 13.2.1): a stale If-Match is 412 whatever the body holds.
      precondition?.(current);
      if (isObject(body) && 'type' in body && body.type !== current.type)
        throw errors.typeImmutable(current.type);
      const input = parseConnectorInput(withKeptSecrets(body, current, revealSecrets));
      return { name: input.name, params: input.params };
    });
    if (!updated) throw errors.connectorNotFound('id', id);
    return tagged(reply, present(updated));
  });

  app.delete<{ Params: IdParams }>('/api/connectors/:id', async (request, reply) => {
    const { accountId, actor, present } = caller(request);
    const deleted = await store.delete(
      accountId,
      actor,
      request.params.id,
      ifMatch(request.headers['if-match'], present),
    );
    if (!deleted) throw errors.connectorNotFound('id', request.params.id);
    return reply.code(204).send();
  });
}

/** The representation, with its ETag set on the reply. */
function tagged<T>(reply: FastifyReply, representation: T): T {
  reply.header('ETag', etagOf(representation));
  return representation;
}
