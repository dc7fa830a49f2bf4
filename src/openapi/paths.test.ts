import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import type { DocumentedRoute } from './collect.js';
import { openApiPaths, openApiTags } from './paths.js';
import { described, jsonResponse } from './route-schema.js';

const Name = Type.String({ minLength: 1, description: 'a name' });
const Thing = Type.Object({ name: Name });
const components = new Map<object, string>([
  [Name, 'Name'],
  [Thing, 'Thing'],
]);
const options = { server: '/api', componentOf: (schema: object) => components.get(schema) };

/** The header every answer of every operation declares (paths.ts), before those its route declares. */
const requestId = {
  'X-Request-Id': { description: expect.stringMatching(/request's id/), schema: { type: 'string' } },
};

const route = (method: string, url: string, schema: DocumentedRoute['schema'], needsKey = true) => ({
  method,
  url,
  schema,
  needsKey,
});

describe('openApiPaths', () => {
  it('writes an operation from what its route declares, named schemas as references', () => {
    const paths = openApiPaths(
      [
        route('PUT', '/api/things/:id/name/:name', {
          tags: ['Things'],
          summary: 'Rename.',
          params: Type.Object({
            id: Type.String({ description: 'the id' }),
            name: described(Name, 'the new name'),
          }),
          querystring: { type: 'object', properties: { dry: { type: 'boolean' } } },
          headers: Type.Object({ 'If-Match': Type.String() }),
          body: described(Thing, 'the thing'),
          response: { 200: jsonResponse('Renamed', Type.Array(Thing)), 404: { description: 'No thing' } },
        }),
      ],
      options,
    );
    expect(paths).toEqual({
      '/things/{id}/name/{name}': {
        put: {
          tags: ['Things'],
          summary: 'Rename.',
          parameters: [
            { name: 'id', in: 'path', required: true, description: 'the id', schema: { type: 'string' } },
            {
              name: 'name',
              in: 'path',
              required: true,
              description: 'the new name',
              schema: { $ref: '#/components/schemas/Name' },
            },
            { name: 'dry', in: 'query', required: false, schema: { type: 'boolean' } },
            { name: 'If-Match', in: 'header', required: true, schema: { type: 'string' } },
          ],
          requestBody: {
            description: 'the thing',
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } },
          },
          responses: {
            200: {
              description: 'Renamed',
              headers: requestId,
              content: {
                'application/json': {
                  schema: { type: 'array', items: { $ref: '#/components/schemas/Thing' } },
                },
              },
            },
            404: { description: 'No thing', headers: requestId },
          },
        },
      },
    });
  });

  it('gives a route outside the server its own, and one without a key no security', () => {
    const paths = openApiPaths(
      [route('GET', '/healthz', { summary: 'Health.', response: { 200: { description: 'ok' } } }, false)],
      options,
    );
    expect(paths).toEqual({
      '/healthz': {
        servers: [{ url: '/' }],
        get: {
          summary: 'Health.',
          security: [],
          responses: { 200: { description: 'ok', headers: requestId } },
        },
      },
    });
  });

  it('writes the headers a response declares besides X-Request-Id, each a string', () => {
    const paths = openApiPaths(
      [
        route('GET', '/api/a', {
          summary: 's',
          response: { 200: { description: 'ok', headers: { ETag: 'the tag' } } },
        }),
      ],
      options,
    );
    expect(paths['/a']).toEqual({
      get: {
        summary: 's',
        responses: {
          200: {
            description: 'ok',
            headers: { ...requestId, ETag: { description: 'the tag', schema: { type: 'string' } } },
          },
        },
      },
    });
  });

  it('refuses what it cannot write', () => {
    const ok = { summary: 's', response: { 200: { description: 'ok' } } };
    expect(() => openApiPaths([route('GET', '/api/files/*', ok)], options)).toThrow(/only :name parameters/);
    expect(() => openApiPaths([route('GET', '/api/a', ok), route('GET', '/api/a', ok)], options)).toThrow(
      /registered twice/,
    );
  });

  it('lists the tags in the order the routes first use them', () => {
    const tagged = (tags: string[]) => route('GET', '/api/x', { tags, summary: 's', response: {} });
    expect(openApiTags([tagged(['B']), tagged(['A', 'B'])])).toEqual([{ name: 'B' }, { name: 'A' }]);
  });
});
