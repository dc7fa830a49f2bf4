/**
 * TypeBox emits JSON Schema of drafts 2019-09 and later (`const`, `patternProperties`, `type`
 * arrays, numeric `exclusiveMinimum`…); an OpenAPI 3.0 Schema Object is an older, closed dialect
 * in which those keywords are errors, and 3.0 tools drop them. These functions rewrite the schemas
 * of a built document into 3.0 keywords, so that the served document validates as 3.0.3 while Ajv
 * goes on validating requests with the original schemas.
 */

import { isRecord } from '../is-record.js';

type JsonObject = Record<string, unknown>;

/** Keywords of a 3.0 Schema Object, kept (their subschemas converted). */
const kept = new Set([
  ...['title', 'description', 'default', 'example', 'deprecated', 'readOnly', 'writeOnly', 'nullable'],
  ...['type', 'format', 'enum', 'multipleOf', 'maximum', 'minimum', 'exclusiveMaximum', 'exclusiveMinimum'],
  ...['maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems'],
  ...['maxProperties', 'minProperties', 'required', 'properties', 'additionalProperties', 'items'],
  ...['allOf', 'anyOf', 'oneOf', 'not', 'discriminator', 'xml', 'externalDocs', '$ref'],
]);

/** Keywords that change what validates and that 3.0 cannot say: refused rather than dropped. */
const inexpressible = new Set([
  ...['if', 'then', 'else', 'dependencies', 'dependentRequired', 'dependentSchemas', 'propertyNames'],
  ...['contains', 'minContains', 'maxContains', 'unevaluatedProperties', 'unevaluatedItems'],
  ...['prefixItems', '$defs', 'definitions', '$dynamicRef', '$recursiveRef'],
]);

/** Annotations 3.0 lacks, and `additionalItems` (a tuple's length is in minItems and maxItems). */
const dropped = new Set(['$id', '$schema', '$comment', '$anchor', 'contentMediaType', 'additionalItems']);

const openApiTypes = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object']);
/** patternProperties keys that every property name matches (Type.Record(Type.String(), …)). */
const anyKey = new Set(['^(.*)$', '^.*$', '.*', '']);

export class OpenApi30Error extends Error {
  constructor(at: string, problem: string) {
    super(`the OpenAPI 3.0 document cannot express ${at}: ${problem}`);
    this.name = 'OpenApi30Error';
  }
}

const pointer = (at: string, key: string | number) =>
  `${at}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;

/** One JSON Schema (as TypeBox emits it) as an OpenAPI 3.0 Schema Object. `at` names it in errors. */
export function toOpenApi30Schema(schema: unknown, at = '#'): JsonObject {
  if (schema === true) return {};
  if (schema === false) return { not: {} };
  if (!isRecord(schema)) throw new OpenApi30Error(at, 'a schema must be an object');
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    const here = pointer(at, key);
    if (key.startsWith('x-')) out[key] = value;
    else if (inexpressible.has(key)) throw new OpenApi30Error(here, `3.0 has no "${key}"`);
    else if (dropped.has(key)) continue;
    else if (key === 'const') out.enum = [value];
    else if (key === 'examples') {
      if (Array.isArray(value) && value.length > 0 && !('example' in schema)) out.example = value[0];
    } else if (key === 'contentEncoding') {
      if (value === 'base64' && !('format' in schema)) out.format = 'byte';
    } else if (kept.has(key)) out[key] = subschemas(key, value, here);
    else if (key !== 'patternProperties') out[`x-${key}`] = value;
  }
  if (typeof out.$ref === 'string' && !out.$ref.startsWith('#/')) {
    throw new OpenApi30Error(pointer(at, '$ref'), `"${out.$ref}" does not point into the document`);
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  exclusiveBound(out, 'exclusiveMinimum', 'minimum', (bound, limit) => bound > limit);
  exclusiveBound(out, 'exclusiveMaximum', 'maximum', (bound, limit) => bound < limit);
  if ('patternProperties' in schema)
    patternProperties(schema.patternProperties, out, pointer(at, 'patternProperties'));
  types(out, at);
  nullMembers(out, 'anyOf');
  nullMembers(out, 'oneOf');
  literalUnion(out);
  return out;
}

function subschemas(key: string, value: unknown, at: string): unknown {
  if (key === 'properties' && isRecord(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([name, property]) => [name, toOpenApi30Schema(property, pointer(at, name))]),
    );
  }
  if (key === 'additionalProperties')
    return typeof value === 'boolean' ? value : toOpenApi30Schema(value, at);
  if (key === 'items' && Array.isArray(value)) {
    // A tuple: 3.0 has no positional items; each item is one of them, the count is in minItems/maxItems.
    return { anyOf: value.map((item, i) => toOpenApi30Schema(item, pointer(at, i))) };
  }
  if (key === 'items' || key === 'not') return toOpenApi30Schema(value, at);
  if ((key === 'allOf' || key === 'anyOf' || key === 'oneOf') && Array.isArray(value)) {
    return value.map((member, i) => toOpenApi30Schema(member, pointer(at, i)));
  }
  return value;
}

/** Draft 6+ numeric `exclusiveMinimum: n` → 3.0's `minimum: n, exclusiveMinimum: true` (same for maximum). */
function exclusiveBound(
  out: JsonObject,
  exclusive: 'exclusiveMinimum' | 'exclusiveMaximum',
  inclusive: 'minimum' | 'maximum',
  stricter: (bound: number, limit: number) => boolean,
): void {
  const bound = out[exclusive];
  if (typeof bound !== 'number') return;
  const limit = out[inclusive];
  if (typeof limit === 'number' && stricter(limit, bound)) {
    delete out[exclusive];
    return;
  }
  out[inclusive] = bound;
  out[exclusive] = true;
}

/** `patternProperties` → `additionalProperties`: exact for Type.Record's any-key pattern. */
function patternProperties(value: unknown, out: JsonObject, at: string): void {
  if (!isRecord(value)) throw new OpenApi30Error(at, 'patternProperties must be an object');
  const patterns = Object.keys(value);
  const values = patterns.map((pattern) => toOpenApi30Schema(value[pattern], pointer(at, pattern)));
  const additional = out.additionalProperties;
  const everyKey = patterns.some((pattern) => anyKey.has(pattern));
  if (!everyKey) {
    // 3.0 cannot constrain property names: the values stay constrained, the names are noted.
    out['x-patternProperties'] = Object.fromEntries(patterns.map((pattern, i) => [pattern, values[i]]));
    if (additional === undefined || additional === true) return;
    if (isRecord(additional)) values.push(additional);
  }
  if (values.length === 0) return;
  out.additionalProperties = values.length === 1 ? values[0] : { anyOf: values };
}

/** `type: [t, 'null']` → `type: t, nullable: true`; refuses TypeBox's non-JSON types (Date, Uint8Array…). */
function types(out: JsonObject, at: string): void {
  if (out.type === undefined) return;
  const all: unknown[] = Array.isArray(out.type) ? out.type : [out.type];
  const named = all.filter((type) => type !== 'null');
  for (const type of named) {
    if (typeof type !== 'string' || !openApiTypes.has(type)) {
      throw new OpenApi30Error(pointer(at, 'type'), `${JSON.stringify(type)} is not a 3.0 type`);
    }
  }
  if (named.length < all.length) out.nullable = true;
  if (named.length === 1) out.type = named[0];
  else if (named.length === 0) {
    delete out.type;
    out.enum = [null];
  } else if (out.anyOf === undefined) {
    delete out.type;
    out.anyOf = named.map((type) => ({ type }));
  } else throw new OpenApi30Error(pointer(at, 'type'), 'several types beside anyOf');
}

/** A union with null (`anyOf: [X, {type: 'null'}]`) → X with `nullable: true`. */
function nullMembers(out: JsonObject, key: 'anyOf' | 'oneOf'): void {
  const members = out[key];
  if (!Array.isArray(members)) return;
  // What `{type: 'null'}` became in types().
  const isNull = (member: unknown) =>
    isRecord(member) && member.type === undefined && Array.isArray(member.enum) && member.enum[0] === null;
  const rest = members.filter((member) => !isNull(member));
  if (rest.length === members.length) return;
  out.nullable = true;
  const [only] = rest;
  if (rest.length === 1 && isRecord(only) && only.$ref === undefined && !overlaps(out, only, key)) {
    delete out[key];
    Object.assign(out, only, { nullable: true });
  } else out[key] = rest;
}

/** A union of literals (`anyOf: [{const: 'a'}, {const: 'b'}]`) → `enum: ['a', 'b']`, as 3.0 tools expect. */
function literalUnion(out: JsonObject): void {
  const members = out.anyOf;
  if (!Array.isArray(members) || members.length === 0 || out.enum !== undefined) return;
  const literal = (member: unknown): member is JsonObject =>
    isRecord(member) &&
    Array.isArray(member.enum) &&
    member.enum.length === 1 &&
    Object.keys(member).every((key) => key === 'enum' || key === 'type');
  if (!members.every(literal)) return;
  const memberTypes = new Set(members.map((member) => member.type));
  if (memberTypes.size !== 1 || (out.type !== undefined && !memberTypes.has(out.type))) return;
  const [type] = memberTypes;
  delete out.anyOf;
  if (type !== undefined) out.type = type;
  out.enum = members.flatMap((member) => (Array.isArray(member.enum) ? member.enum : []));
}

const overlaps = (out: JsonObject, member: JsonObject, except: string) =>
  Object.keys(member).some((key) => key !== 'nullable' && key !== except && key in out);

/**
 * Every schema of an OpenAPI document (components.schemas and each `schema` of a parameter,
 * header or media type) in 3.0 keywords; the rest of the document is copied as it is.
 */
export function toOpenApi30Document(document: JsonObject): JsonObject {
  return walkObject(document, '#');
}

function walk(node: unknown, at: string): unknown {
  if (Array.isArray(node)) return node.map((item, i) => walk(item, pointer(at, i)));
  return isRecord(node) ? walkObject(node, at) : node;
}

function walkObject(node: JsonObject, at: string): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    const here = pointer(at, key);
    if (key === 'example' || key === 'examples' || key.startsWith('x-')) out[key] = value;
    else if (key === 'schema') out[key] = toOpenApi30Schema(value, here);
    else if (key === 'schemas' && at === '#/components' && isRecord(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, schema]) => [name, toOpenApi30Schema(schema, pointer(here, name))]),
      );
    } else out[key] = walk(value, here);
  }
  return out;
}
