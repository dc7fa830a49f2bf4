import type { TObject, TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ConnectorType } from '../connectors/define.js';
import { type DeliveryEvent, DeliveryEventSchema } from '../connectors/delivery.js';
import { isHttpUrl } from '../connectors/validate.js';
import { type ErrorDetail, errors, quote, summarizeProblems } from '../errors.js';
import { isRecord } from '../is-record.js';

// validateSchema off, as in connectors/validate.ts: the meta-schema is not compiled at start;
// the schemas are fixed in the code and deliver-types.test.ts checks them against it. Made with
// the first validator compiled, not as the server starts (issue 15), as in connectors/validate.ts.
let ajvInstance: Ajv | undefined;
function ajv(): Ajv {
  if (ajvInstance) return ajvInstance;
  const made = new Ajv({ allErrors: true, strict: false, verbose: true, validateSchema: false });
  made.addFormat('uri', { type: 'string', validate: isHttpUrl });
  ajvInstance = made;
  return made;
}

/** Compiled on its first use (a few milliseconds, once), not at start. */
let validateEvent: ValidateFunction<DeliveryEvent> | undefined;
const optionValidators = new WeakMap<TObject, ValidateFunction>();

function validatorOf(schema: TObject): ValidateFunction {
  let validate = optionValidators.get(schema);
  if (!validate) {
    validate = ajv().compile(schema);
    optionValidators.set(schema, validate);
  }
  return validate;
}

/**
 * The event's validator, compiled at its first use or by the warm-up (warm-up.ts, after the server
 * listens), loading Ajv with it:
 * the first delivery accepted paid ~40 ms for both (Ajv's modules are compiled from source).
 */
export function eventValidator(): ValidateFunction<DeliveryEvent> {
  validateEvent ??= ajv().compile<DeliveryEvent>(DeliveryEventSchema);
  return validateEvent;
}

function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** The names an object schema allows, for messages. */
function allowedKeys(schema: TSchema): string {
  const names = Object.keys((schema as { properties?: Record<string, unknown> }).properties ?? {});
  return names.length > 0 ? names.join(', ') : 'none (params must be {} or omitted)';
}

/** One Ajv error as the API's problem, under `prefix` (`/event` or `/params`). */
function detail(error: ErrorObject, prefix: string, what: string, schema: TSchema): ErrorDetail {
  const at = `${prefix}${error.instancePath}`;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(error.params.additionalProperty);
      const top = error.instancePath === '';
      return {
        field: `${at}/${escapePointer(key)}`,
        message: top
          ? `unknown key ${quote(key)} ${what}; allowed keys: ${allowedKeys(schema)}`
          : `unknown key ${quote(key)}`,
      };
    }
    case 'required':
      return {
        field: `${at}/${escapePointer(String(error.params.missingProperty))}`,
        message: `is required ${what}`,
      };
    case 'type': {
      const expected = String(error.params.type);
      return { field: at, message: `must be ${/^[aeiou]/.test(expected) ? 'an' : 'a'} ${expected}` };
    }
    case 'minLength':
      return { field: at, message: 'must not be empty' };
    case 'maxLength':
      return { field: at, message: `must be at most ${String(error.params.limit)} characters` };
    case 'maxItems':
      return { field: at, message: `must have at most ${String(error.params.limit)} items` };
    case 'format':
      return { field: at, message: 'must be an absolute http: or https: URL, e.g. https://example.com' };
    case 'anyOf': {
      const choices = (Array.isArray(error.schema) ? error.schema : [])
        .map((option: unknown) => (isRecord(option) && 'const' in option ? String(option.const) : undefined))
        .filter((value): value is string => value !== undefined);
      return {
        field: at,
        message: choices.length > 0 ? `must be one of ${choices.join(', ')}` : 'is not valid',
      };
    }
    case 'enum':
      return { field: at, message: `must be one of ${(error.params.allowedValues as unknown[]).join(', ')}` };
    case 'minimum':
    case 'maximum':
      return { field: at, message: `must be ${error.params.comparison} ${String(error.params.limit)}` };
    default:
      return { field: at, message: error.message ?? 'is invalid' };
  }
}

/** Ajv's errors as problems: the `const` errors under an `anyOf` are said by the anyOf's one. */
function details(
  found: readonly ErrorObject[] | null | undefined,
  prefix: string,
  what: string,
  schema: TSchema,
): ErrorDetail[] {
  const list = found ?? [];
  const unions = new Set(list.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  return list
    .filter((e) => !(e.keyword === 'const' && unions.has(e.instancePath)))
    .map((error) => detail(error, prefix, what, schema));
}

export interface DeliveryInput {
  readonly event: DeliveryEvent;
  readonly options: Record<string, unknown>;
}

/**
 * The event of a delivery request: ilert's Events API fields; `summary` required for ALERT.
 * Problems are located under `prefix`.
 */
export function eventProblems(event: unknown, prefix = '/event'): ErrorDetail[] {
  if (!isRecord(event)) return [{ field: prefix, message: 'is required, as an object' }];
  const validate = eventValidator();
  if (validate(event)) {
    return event.eventType === 'ALERT' && event.summary === undefined
      ? [{ field: `${prefix}/summary`, message: 'is required for an ALERT event' }]
      : [];
  }
  return details(validate.errors, prefix, 'in an event', DeliveryEventSchema);
}

/** The per-type options: unknown keys named with the allowed ones, required ones enforced. */
export function optionProblems(type: ConnectorType, schema: TObject, options: unknown): ErrorDetail[] {
  if (!isRecord(options)) return [{ field: '/params', message: 'must be an object' }];
  const validate = validatorOf(schema);
  if (validate(options)) return [];
  return details(validate.errors, '/params', `for a delivery through a ${type.id} connector`, schema);
}

/** Checks a delivery request's body; throws a 400 listing every problem. */
export function parseDeliveryInput(type: ConnectorType, schema: TObject, body: unknown): DeliveryInput {
  if (!isRecord(body)) {
    throw errors.validation(
      'request body must be a JSON object: {"event": {...}, "params": {...}}, sent with Content-Type: application/json',
      [{ field: '', message: 'must be an object' }],
    );
  }
  const problems: ErrorDetail[] = [];
  for (const key of Object.keys(body)) {
    if (key !== 'event' && key !== 'params') {
      problems.push({
        field: `/${escapePointer(key)}`,
        message: `unknown field ${quote(key)}; allowed fields: event, params`,
      });
    }
  }
  problems.push(...eventProblems(body.event));
  const options = body.params ?? {};
  problems.push(...optionProblems(type, schema, options));
  if (problems.length > 0)
    throw errors.validation(`invalid delivery: ${summarizeProblems(problems)}`, problems);
  return { event: body.event as DeliveryEvent, options: options as Record<string, unknown> };
}

/**
 * Options from a query string (the Alertmanager route): each value coerced to what the type's
 * option schema says, integer and boolean from their text, an array of strings from repeated or
 * comma-separated values. Then checked like a body's params.
 */
export function optionsFromQuery(
  type: ConnectorType,
  schema: TObject,
  query: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, unknown> {
  const properties = (schema as { properties?: Record<string, Record<string, unknown>> }).properties ?? {};
  const options: Record<string, unknown> = {};
  const problems: ErrorDetail[] = [];
  for (const [name, raw] of Object.entries(query)) {
    if (raw === undefined) continue;
    const values = Array.isArray(raw) ? raw : [raw];
    const property = properties[name];
    const kind = property?.type;
    const field = `/params/${escapePointer(name)}`;
    if (kind === 'array') {
      options[name] = values.flatMap((value) => value.split(',')).filter((value) => value !== '');
      continue;
    }
    if (values.length > 1) {
      problems.push({ field, message: `${name} was given more than once; give it once` });
      continue;
    }
    const value = values[0] ?? '';
    if (kind === 'integer' || kind === 'number') {
      const number = Number(value);
      if (value.trim() === '' || !Number.isFinite(number)) {
        problems.push({ field, message: `must be ${kind === 'integer' ? 'an integer' : 'a number'}` });
      } else options[name] = number;
    } else if (kind === 'boolean') {
      if (value === 'true' || value === '1') options[name] = true;
      else if (value === 'false' || value === '0') options[name] = false;
      else problems.push({ field, message: 'must be true or false' });
    } else options[name] = value;
  }
  problems.push(...optionProblems(type, schema, options));
  if (problems.length > 0) {
    throw errors.validation(
      `invalid delivery options in the query string: ${summarizeProblems(problems)}`,
      problems,
    );
  }
  return options;
}
