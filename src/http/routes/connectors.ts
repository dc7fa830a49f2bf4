import type { FastifyInstance } from 'fastify';
import { ConnectorListSchema, ConnectorSchema } from '../../connectors/schemas.js';
import { parseConnectorInput } from '../../connectors/validate.js';
import { errors } from '../../errors.js';
import type { ConnectorStore } from '../../store/connector-store.js';
import { principalOf } from '../auth.js';
import { parsePage } from '../paging.js';
import { presentConnector } from '../present.js';

export interface ConnectorRoutesOptions {
  readonly store: ConnectorStore;
  /** 200 as the spec says, or 201 for ilert's Go client and Terraform provider. */
  readonly createStatus: 200 | 201;
}

interface IdParams {
  id: string;
}

const one = { response: { 200: ConnectorSchema, 201: ConnectorSchema } };

export function connectorRoutes(app: FastifyInstance, { store, createStatus }: ConnectorRoutesOptions): void {
  app.get('/api/connectors', { schema: { response: { 200: ConnectorListSchema } } }, async (request) => {
    const principal = principalOf(request);
    const { offset, limit } = parsePage(request.query);
    const page = await store.list(principal.accountId, offset, limit);
    return page.map((connector) => presentConnector(connector, principal.role));
  });

  app.post('/api/connectors', { schema: one }, async (request, reply) => {
    const principal = principalOf(request);
    const input = parseConnectorInput(request.body);
    const created = await store.create(principal.accountId, {
      type: input.type.id,
      name: input.name,
      params: input.params,
    });
    reply.code(createStatus);
    return presentConnector(created, principal.role);
  });

  app.get<{ Params: IdParams }>('/api/connectors/:id', { schema: one }, async (request) => {
    const principal = principalOf(request);
    const connector = await store.get(principal.accountId, request.params.id);
    if (!connector) throw errors.connectorNotFound('id', request.params.id);
    return presentConnector(connector, principal.role);
  });

  app.get<{ Params: { name: string } }>('/api/connectors/name/:name', { schema: one }, async (request) => {
    const principal = principalOf(request);
    const connector = await store.getByName(principal.accountId, request.params.name);
    if (!connector) throw errors.connectorNotFound('name', request.params.name);
    return presentConnector(connector, principal.role);
  });

  app.put<{ Params: IdParams }>('/api/connectors/:id', { schema: one }, async (request) => {
    const principal = principalOf(request);
    const { id } = request.params;
    const stored = await store.get(principal.accountId, id);
    if (!stored) throw errors.connectorNotFound('id', id);
    const body: unknown = request.body;
    if (typeof body === 'object' && body !== null && 'type' in body && body.type !== stored.type) {
      throw errors.typeImmutable(stored.type);
    }
    const input = parseConnectorInput(body);
    const updated = await store.update(principal.accountId, id, { name: input.name, params: input.params });
    if (!updated) throw errors.connectorNotFound('id', id);
    return presentConnector(updated, principal.role);
  });

  app.delete<{ Params: IdParams }>('/api/connectors/:id', async (request, reply) => {
    const principal = principalOf(request);
    const deleted = await store.delete(principal.accountId, request.params.id);
    if (!deleted) throw errors.connectorNotFound('id', request.params.id);
    return reply.code(204).send();
  });
}
