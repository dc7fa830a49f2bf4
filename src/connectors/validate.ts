import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { type AppError, type ErrorDetail, errors, quote, summarizeProblems } from '../errors.js';
import { isRecord } from '../is-record.js';
import type { Params } from './checks/types.js';
import type { ConnectorType } from './define.js';
import { connectorTypeIds, connectorTypes, findConnectorType, type RegisteredType } from './registry.js';
import {
  AnyConnectorInputSchema,
  connectorInputSchema,
  serverSetFields,
  type ValidConnectorBody,
} from './schemas.js';

/** What a valid POST or PUT body carries; everything else in it is ignored or rejected. */
export interface ConnectorInput {
  readonly type: RegisteredType;
  readonly name: string;
  readonly params: Params;
}

/** True for an absolute http: or https: URL with a host, exactly as given (no surrounding spaces). */
export function isHttpUrl(value: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
  if (/[\s\u0000-\u001f\u007f]/.test(value) || !/^https?:\/\//i.test(value)) return false;
  // The pattern fixed the scheme; http(s) URLs parse only with a host, so parsing is the last test.
  return URL.canParse(value);
}

// Mutating strict, the vocabulary or the format's type changes nothing a body can show with the
// schemas we compile (strict only refuses bad schemas): those mutants are disabled as equivalent.
// validateSchema off: checking a schema against the meta-schema first compiles the meta-schema, a
// tenth of the server's start-up; the schemas are fixed in the code, and validate.test.ts checks
// every one of them against the meta-schema instead. Made with the first validator compiled (a
// body's first check, which compiles its type's validator anyway), not as the server starts: Ajv's
// set-up of its vocabularies was ~1.5 % of a start (issue 15).
let ajvInstance: Ajv | undefined;
function ajv(): Ajv {
  if (ajvInstance) return ajvInstance;
  const made = new Ajv({
    allErrors: true,
    // Stryker disable next-line BooleanLiteral: equivalent (see above)
    strict: true,
    // Stryker disable next-line BooleanLiteral: equivalent: checking our fixed schemas at start changes only how fast the server starts
    validateSchema: false,
  });
  // Stryker disable next-line StringLiteral: equivalent (see above)
  made.addVocabulary(['x-secret']);
  made.addFormat('uri', {
    // Stryker disable next-line StringLiteral: equivalent (see above)
    type: 'string',
    validate: isHttpUrl,
  });
  ajvInstance = made;
  return made;
}

/** The schemas this module compiles: the any-type body's and each registered type's (for the test). */
export function compiledSchemas(): readonly object[] {
  return [AnyConnectorInputSchema, ...connectorTypes.map((type) => connectorInputSchema(type))];
}

/** The body of an unknown type, compiled on its first use (a few milliseconds, once), not at start. */
let anyValidator: ValidateFunction | undefined;
const validatorByType = new Map<string, ValidateFunction<ValidConnectorBody>>();

/** The compiled validator of one type's body, compiled on first use. */
function validatorFor(type: ConnectorType): ValidateFunction<ValidConnectorBody> {
  let validate = validatorByType.get(type.id);
  // Stryker disable next-line ConditionalExpression: a cache; compiling anew each time answers the same, only slower
  if (!validate) {
    validate = ajv().compile<ValidConnectorBody>(connectorInputSchema(type));
    validatorByType.set(type.id, validate);
  }
  return validate;
}

const topLevelFields = ['type', 'name', 'params'];

function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** The keys a type allows. */
function allowedParams(type: ConnectorType): string {
  const names = type.paramNames.join(', ');
  // Stryker disable next-line all: every registered type has params, so no body reaches the `none` wording
  return names !== '' ? names : 'none (params must be {} or omitted)';
}

function detail(error: ErrorObject, type: ConnectorType | undefined): ErrorDetail {
  const at = error.instancePath;
  const inParams = at === '/params';
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(error.params.additionalProperty);
      const field = `${at}/${escapePointer(key)}`;
      if (inParams && type) {
        return {
          field,
          message: `unknown key ${quote(key)} for type ${type.id}; allowed keys: ${allowedParams(type)}`,
        };
      }
      return {
        field,
        message: `unknown field ${quote(key)}; allowed fields: ${topLevelFields.join(', ')} (${serverSetFields.join(', ')} are set by the server and ignored)`,
      };
    }
    case 'required': {
      const missing = String(error.params.missingProperty);
      const field = `${at}/${escapePointer(missing)}`;
      if (inParams && type) return { field, message: `is required for type ${type.id}` };
      if (missing === 'params' && type) {
        return {
          field,
          message: `is required for type ${type.id}; it needs ${type.requiredParams.join(', ')}`,
        };
      }
      return { field, message: 'is required' };
    }
    case 'type': {
      const expected = String(error.params.type);
      return { field: at, message: `must be ${expected === 'object' ? 'an' : 'a'} ${expected}` };
    }
    case 'minLength':
      return { field: at, message: 'must not be empty' };
    case 'maxLength':
      return { field: at, message: `must be at most ${String(error.params.limit)} characters` };
    case 'format':
      return { field: at, message: 'must be an absolute http: or https: URL, e.g. https://example.com' };
    case 'enum':
    // `const`: a type's own schema pins `type` to its id, and the type was found by that id, so no
    // body reaches it; `default` likewise covers keywords our schemas do not use.
    // Stryker disable next-line StringLiteral: unreachable (see above)
    case 'const':
      return {
        field: at,
        message: `is not a known connector type; accepted types: ${connectorTypeIds.join(', ')}`,
      };
    // Stryker disable next-line ConditionalExpression: unreachable (see above)
    default:
      // Stryker disable next-line all: unreachable (see above)
      return { field: at, message: error.message ?? 'is invalid' };
  }
}

/**
 * What ilert's clients send for "not set", made the same as leaving it out: ilert's Go client
 * sends `"params": null` when no params are set, and its structs send `""` for an empty optional
 * field (Teams' `url`). So `params: null` is dropped (a type that requires params then says which),
 * and an optional param whose value is `""` is dropped, whatever its format. A required param's
 * `""` stays and is refused. Anything that is not such a body is returned as it is.
 */
export function withoutUnsetValues(body: unknown): unknown {
  if (!isRecord(body)) return body;
  const { params, ...rest } = body;
  if (params === null) return rest;
  const type = findConnectorType(body.type);
  if (!type || !isRecord(params)) return body;
  const kept = Object.entries(params).filter(
    ([name, value]) =>
      !(value === '' && type.paramNames.includes(name) && !type.requiredParams.includes(name)),
  );
  return { ...body, params: Object.fromEntries(kept) };
}

/**
 * Checks a POST or PUT body: the connector shape, then `params` by the connector's type.
 * `params: null` and `""` for an optional param mean "not set" (withoutUnsetValues).
 * Throws a 400 AppError listing every problem by JSON pointer; messages never quote values.
 */
export function parseConnectorInput(sent: unknown): ConnectorInput {
  const body = withoutUnsetValues(sent);
  if (body === undefined) {
    throw errors.validation(
      'request body is required: send the connector as JSON with Content-Type: application/json',
      [{ field: '', message: 'is required' }],
    );
  }
  if (!isRecord(body)) {
    throw errors.validation('request body must be a JSON object', [
      { field: '', message: 'must be an object' },
    ]);
  }
  const type = findConnectorType(body.type);
  if (!type) {
    anyValidator ??= ajv().compile(AnyConnectorInputSchema);
    anyValidator(body);
    throw invalid(anyValidator.errors, undefined);
  }
  const validate = validatorFor(type);
  if (!validate(body)) throw invalid(validate.errors, type);
  const params = body.params ?? {};
  const malformed = [
    ...textProblems('/name', body.name),
    ...Object.entries(params).flatMap(([key, value]) => textProblems(`/params/${escapePointer(key)}`, value)),
  ];
  if (malformed.length > 0) {
    throw errors.validation(`invalid connector: ${summarizeProblems(malformed)}`, malformed);
  }
  return { type, name: body.name, params };
}

/**
 * What JSON allows in a string but a database cannot keep as text. A lone surrogate (`"\ud800"`)
 * is not text: SQLite would store bytes that read back as U+FFFD, so the stored value would differ
 * from the acknowledged one and distinct names would read back equal. PostgreSQL refuses U+0000 in
 * text outright; it is refused on both backends so that a body valid on one is valid on the other.
 */
function textProblems(field: string, value: string): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  if (/\p{Cs}/u.test(value)) {
    problems.push({
      field,
      message: 'must be valid Unicode text (it holds a lone UTF-16 surrogate, e.g. from a "\\ud800" escape)',
    });
  }
  if (value.includes('\u0000')) {
    problems.push({ field, message: 'must not contain the NUL character (U+0000, "\\u0000" in JSON)' });
  }
  return problems;
}

function invalid(ajvErrors: ErrorObject[] | null | undefined, type: ConnectorType | undefined): AppError {
  // Ajv sets `errors` whenever validation fails; `?? []` only satisfies its type.
  // Stryker disable next-line ArrayDeclaration: unreachable (see above)
  const details = (ajvErrors ?? []).map((error) => detail(error, type));
  return errors.validation(`invalid connector: ${summarizeProblems(details)}`, details);
}
