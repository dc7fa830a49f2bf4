import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { OpenApi30Error, toOpenApi30Document, toOpenApi30Schema } from '../src/openapi/openapi30.js';

describe('toOpenApi30Schema', () => {
  it.each([
    ['a literal', Type.Literal('slack'), { type: 'string', enum: ['slack'] }],
    [
      'a union of literals',
      Type.Union([Type.Literal('a'), Type.Literal('b')], { description: 'd' }),
      { type: 'string', enum: ['a', 'b'], description: 'd' },
    ],
    [
      'a record of strings',
      Type.Record(Type.String(), Type.String()),
      { type: 'object', additionalProperties: { type: 'string' } },
    ],
    ['a nullable string', Type.Union([Type.String(), Type.Null()]), { type: 'string', nullable: true }],
    ['a type array', { type: ['integer', 'null'] }, { type: 'integer', nullable: true }],
    ['several types', { type: ['string', 'integer'] }, { anyOf: [{ type: 'string' }, { type: 'integer' }] }],
    [
      'a numeric exclusiveMinimum',
      Type.Integer({ exclusiveMinimum: 0 }),
      { type: 'integer', minimum: 0, exclusiveMinimum: true },
    ],
    [
      'an exclusiveMaximum looser than maximum',
      { type: 'number', maximum: 5, exclusiveMaximum: 10 },
      { type: 'number', maximum: 5 },
    ],
    [
      'examples and $id',
      Type.String({ $id: 'Name', examples: ['x', 'y'] }),
      { type: 'string', example: 'x' },
    ],
    ['boolean schemas', { properties: { a: true, b: false } }, { properties: { a: {}, b: { not: {} } } }],
    [
      'a tuple',
      Type.Tuple([Type.String(), Type.Integer()]),
      {
        type: 'array',
        items: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
        minItems: 2,
        maxItems: 2,
      },
    ],
    [
      'an unknown annotation',
      { type: 'string', errorMessage: 'm' },
      { type: 'string', 'x-errorMessage': 'm' },
    ],
  ])('converts %s', (_label, schema, expected) => {
    expect(toOpenApi30Schema(schema)).toEqual(expected);
  });

  it('converts nested schemas and leaves property names alone', () => {
    const schema = Type.Object(
      {
        const: Type.Literal(1),
        list: Type.Array(Type.Literal('a')),
        map: Type.Optional(Type.Record(Type.String(), Type.Union([Type.Literal(1), Type.Literal(2)]))),
      },
      { additionalProperties: false, 'x-secret': ['kept'] },
    );
    expect(toOpenApi30Schema(schema)).toEqual({
      type: 'object',
      additionalProperties: false,
      'x-secret': ['kept'],
      required: ['const', 'list'],
      properties: {
        const: { type: 'number', enum: [1] },
        list: { type: 'array', items: { type: 'string', enum: ['a'] } },
        map: { type: 'object', additionalProperties: { type: 'number', enum: [1, 2] } },
      },
    });
  });

  it('keeps the values of a key pattern 3.0 cannot state, and notes the pattern', () => {
    const schema = { type: 'object', patternProperties: { '^a': { const: 1 } }, additionalProperties: false };
    expect(toOpenApi30Schema(schema)).toEqual({
      type: 'object',
      additionalProperties: { enum: [1] },
      'x-patternProperties': { '^a': { enum: [1] } },
    });
  });

  it.each([
    ['if', { if: { type: 'string' } }, '#/if'],
    ['dependentRequired', { dependentRequired: { a: ['b'] } }, '#/dependentRequired'],
    ['propertyNames', Type.Object({}, { propertyNames: { pattern: '^a' } }), '#/propertyNames'],
    ['a $ref outside the document', Type.Ref('Other'), '#/$ref'],
    ['a Date', { properties: { at: Type.Date() } }, '#/properties/at/type'],
  ])('refuses %s, naming where', (_label, schema, where) => {
    expect(() => toOpenApi30Schema(schema)).toThrow(OpenApi30Error);
    expect(() => toOpenApi30Schema(schema)).toThrow(where);
  });
});

describe('toOpenApi30Document', () => {
  it('converts components.schemas and every `schema`, and nothing else', () => {
    const document = {
      openapi: '3.0.3',
      components: { schemas: { Kind: Type.Literal('k') } },
      paths: {
        '/x/{const}': {
          get: {
            parameters: [{ name: 'const', in: 'path', required: true, schema: Type.Literal('c') }],
            responses: {
              200: {
                description: 'ok',
                content: { 'application/json': { schema: Type.Literal('r'), example: { const: 1 } } },
              },
            },
          },
        },
      },
    };
    expect(toOpenApi30Document(document)).toEqual({
      openapi: '3.0.3',
      components: { schemas: { Kind: { type: 'string', enum: ['k'] } } },
      paths: {
        '/x/{const}': {
          get: {
            parameters: [
              { name: 'const', in: 'path', required: true, schema: { type: 'string', enum: ['c'] } },
            ],
            responses: {
              200: {
                description: 'ok',
                content: {
                  'application/json': { schema: { type: 'string', enum: ['r'] }, example: { const: 1 } },
                },
              },
            },
          },
        },
      },
    });
  });
});
