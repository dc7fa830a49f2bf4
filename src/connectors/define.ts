import { type TObject, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { CheckDefinition, CheckRun, EndpointRun, Params } from './checks/types.js';
import type { DeliveryDefinition, DeliveryInput } from './delivery.js';

/**
 * How a param's value is checked beyond "a string": `url` must be an absolute
 * http: or https: URL, `text` is any string.
 */
export type ParamFormat = 'text' | 'url';

export interface ParamSpec<Required extends boolean = boolean> {
  readonly format: ParamFormat;
  /** Required params must be present and non-empty. */
  readonly required: Required;
  /** A credential: masked for read keys, never logged. */
  readonly secret: boolean;
  readonly description: string;
}

export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

type RequiredNames<S extends ParamSpecs> = {
  [K in keyof S]: S[K] extends ParamSpec<true> ? K : never;
}[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * The params a type's own code sees, by the names it declares: a required one is a string, an
 * optional one a string or undefined, and a name it does not declare is a compile error.
 */
export type ParamsOf<S extends ParamSpecs> = Simplify<
  { readonly [K in RequiredNames<S>]: string } & {
    readonly [K in Exclude<keyof S, RequiredNames<S>>]?: string;
  }
>;

interface DeclarationBase<Id extends string, S extends ParamSpecs> {
  /** The `type` value of the API, e.g. `jira`. */
  readonly id: Id;
  readonly displayName: string;
  readonly description: string;
  readonly params: S;
}

/** A type whose target is where its params say (a URL param), or that calls nothing. */
interface PlainDeclaration<Id extends string, S extends ParamSpecs, O extends TObject>
  extends DeclarationBase<Id, S> {
  readonly endpoint?: undefined;
  /** How to check a connector's credentials (POST /api/connectors/{id}/check). */
  readonly check: CheckDefinition<ParamsOf<S>, CheckRun>;
  /** How to deliver an event through a connector (POST /api/connectors/{id}/deliveries). */
  readonly deliver?: DeliveryDefinition<ParamsOf<S>, CheckRun, O>;
}

/** A type whose target is one fixed endpoint (GitHub's API); its check and delivery find it in their run. */
interface EndpointDeclaration<Id extends string, S extends ParamSpecs, O extends TObject>
  extends DeclarationBase<Id, S> {
  /** The endpoint, e.g. `https://api.github.com`; the check settings can point it elsewhere (tests do). */
  readonly endpoint: string;
  readonly check: CheckDefinition<ParamsOf<S>, EndpointRun>;
  readonly deliver?: DeliveryDefinition<ParamsOf<S>, EndpointRun, O>;
}

export type ConnectorTypeDeclaration<Id extends string, S extends ParamSpecs, O extends TObject = TObject> =
  | PlainDeclaration<Id, S, O>
  | EndpointDeclaration<Id, S, O>;

/** A connector type: its declaration, with everything derived from it once. */
export interface ConnectorType<Id extends string = string, S extends ParamSpecs = ParamSpecs> {
  readonly id: Id;
  readonly displayName: string;
  readonly description: string;
  readonly params: S;
  /** The fixed endpoint its target lives at, or undefined when its params say where. */
  readonly endpoint: string | undefined;
  /** The check, taking params as stored and validated (by this type's schema) on their way in. */
  readonly check: CheckDefinition<Params, CheckRun>;
  /** The delivery, taking params as stored and options as validated by its `options` schema. */
  readonly deliver: DeliveryDefinition<Params, CheckRun> | undefined;
  readonly paramNames: readonly string[];
  readonly requiredParams: readonly string[];
  readonly secretParams: ReadonlySet<string>;
  /** JSON Schema of `params` for this type; used for validation and the OpenAPI document. */
  readonly paramsSchema: TObject;
  /** The OpenAPI component name of `paramsSchema`, e.g. `ParamsMicrosoftTeamsBot`. */
  readonly schemaName: string;
}

/** Params that did not pass the type's validation reached its code: a bug of ours, never the caller's. */
export class UnvalidatedParamsError extends Error {
  constructor(typeId: string, missing: readonly string[]) {
    super(`params of a ${typeId} connector reached its check without ${missing.join(', ')}`);
    this.name = 'UnvalidatedParamsError';
  }
}

function paramSchema(spec: ParamSpec): TSchema {
  const options = {
    description: spec.description,
    ...(spec.secret ? { 'x-secret': true } : {}),
  };
  if (spec.format === 'url') return Type.String({ ...options, format: 'uri' });
  return Type.String(spec.required ? { ...options, minLength: 1 } : options);
}

function pascalCase(id: string): string {
  return id
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

function missingParams(specs: ParamSpecs, params: Params): string[] {
  return Object.entries(specs)
    .filter(([name, spec]) => spec.required && typeof params[name] !== 'string')
    .map(([name]) => name);
}

/** Whether every required param is there (missingParams is empty), without making the list: twice per delivery attempt. */
function hasDeclaredParams<S extends ParamSpecs>(specs: S, params: Params): params is Params & ParamsOf<S> {
  for (const name in specs) {
    if (specs[name]?.required && typeof params[name] !== 'string') return false;
  }
  return true;
}

/**
 * The declared check, taking params as stored: they are the type's by its schema (validated on the
 * way in); the guard only turns a bug of ours into an error that says so.
 */
function storedParamsCheck<Id extends string, S extends ParamSpecs, O extends TObject>(
  declaration: ConnectorTypeDeclaration<Id, S, O>,
): CheckDefinition<Params, CheckRun> {
  const named = (params: Params): ParamsOf<S> => {
    if (hasDeclaredParams(declaration.params, params)) return params;
    throw new UnvalidatedParamsError(declaration.id, missingParams(declaration.params, params));
  };
  if (declaration.endpoint === undefined) return withRun(declaration.check, named, (context) => context);
  const { id, endpoint } = declaration;
  return withRun(declaration.check, named, (context) => ({
    ...context,
    endpoint: context.endpoints[id] ?? endpoint,
  }));
}

/**
 * What a declared delivery's `send` gets: the engine's input with the params by their declared
 * names. The event through a getter, so that a type that sends `eventJson` never has it parsed
 * (the claim's is lazy); a class, not an object literal with a getter, which V8 makes through the
 * runtime, accessor by accessor (~0.7 µs, measured, against ~0.03 µs), once per attempt.
 */
class StoredInput<P, O> implements DeliveryInput<P, O> {
  readonly eventJson?: string;
  readonly ticket?: DeliveryInput<P, O>['ticket'];
  readonly deliveryId?: string;
  readonly connectorId?: string;
  readonly #given: DeliveryInput<Params, unknown>;

  constructor(
    given: DeliveryInput<Params, unknown>,
    readonly options: O,
    readonly params: P,
  ) {
    this.#given = given;
    if (given.eventJson !== undefined) this.eventJson = given.eventJson;
    if (given.ticket !== undefined) this.ticket = given.ticket;
    if (given.deliveryId !== undefined) this.deliveryId = given.deliveryId;
    if (given.connectorId !== undefined) this.connectorId = given.connectorId;
  }

  get event(): DeliveryInput<P, O>['event'] {
    return this.#given.event;
  }
}

/** The declared delivery, taking params as stored and options as queued, like the check (see storedParamsCheck). */
function storedParamsDelivery<Id extends string, S extends ParamSpecs, O extends TObject>(
  declaration: ConnectorTypeDeclaration<Id, S, O>,
): DeliveryDefinition<Params, CheckRun> | undefined {
  const named = (params: Params): ParamsOf<S> => {
    if (hasDeclaredParams(declaration.params, params)) return params;
    throw new UnvalidatedParamsError(declaration.id, missingParams(declaration.params, params));
  };
  const input = <T extends TObject>(schema: T, given: DeliveryInput<Params, unknown>) => {
    const { options } = given;
    // Queued only once valid by this schema; the guard turns a bug of ours into an error that says so.
    if (!Value.Check(schema, options)) throw new UnvalidatedParamsError(declaration.id, ['valid options']);
    return new StoredInput(given, options, named(given.params));
  };
  if (declaration.endpoint === undefined) {
    const deliver = declaration.deliver;
    if (!deliver) return undefined;
    return {
      kind: deliver.kind,
      description: deliver.description,
      options: deliver.options,
      missing: (params) => deliver.missing?.(named(params)),
      send: (given, run) => deliver.send(input(deliver.options, given), run),
    };
  }
  const { id, endpoint, deliver } = declaration;
  if (!deliver) return undefined;
  return {
    kind: deliver.kind,
    description: deliver.description,
    options: deliver.options,
    missing: (params) => deliver.missing?.(named(params)),
    send: (given, run) =>
      deliver.send(input(deliver.options, given), {
        ...run,
        endpoint: run.endpoints[id] ?? endpoint,
      }),
  };
}

/** A check that takes stored params and the common run, giving the declared one its own of each. */
function withRun<P, R extends CheckRun>(
  check: CheckDefinition<P, R>,
  named: (params: Params) => P,
  runOf: (context: CheckRun) => R,
): CheckDefinition<Params, CheckRun> {
  if (check.kind === 'online') {
    return {
      kind: 'online',
      description: check.description,
      run: (params, context) => check.run(named(params), runOf(context)),
    };
  }
  const { validate } = check;
  return {
    kind: 'offline',
    reason: check.reason,
    ...(validate
      ? {
          validate: {
            description: validate.description,
            problem: (params) => validate.problem(named(params)),
          },
        }
      : {}),
  };
}

/** Declares a connector type; validation, masking, the OpenAPI document and the catalog derive from it. */
export function defineConnectorType<
  const Id extends string,
  const S extends ParamSpecs,
  const O extends TObject = TObject,
>(declaration: ConnectorTypeDeclaration<Id, S, O>): ConnectorType<Id, S> {
  const entries = Object.entries(declaration.params);
  const properties: Record<string, TSchema> = {};
  for (const [name, spec] of entries) {
    properties[name] = spec.required ? paramSchema(spec) : Type.Optional(paramSchema(spec));
  }
  return {
    id: declaration.id,
    displayName: declaration.displayName,
    description: declaration.description,
    params: declaration.params,
    endpoint: declaration.endpoint,
    check: storedParamsCheck(declaration),
    deliver: storedParamsDelivery(declaration),
    paramNames: entries.map(([name]) => name),
    requiredParams: entries.filter(([, spec]) => spec.required).map(([name]) => name),
    secretParams: new Set(entries.filter(([, spec]) => spec.secret).map(([name]) => name)),
    paramsSchema: Type.Object(properties, {
      additionalProperties: false,
      description: `params of a ${declaration.displayName} connector`,
    }),
    schemaName: `Params${pascalCase(declaration.id)}`,
  };
}

interface Optional {
  readonly required: false;
}
interface Required {
  readonly required?: true;
}

function url(description: string, options?: { readonly secret?: boolean } & Required): ParamSpec<true>;
function url(description: string, options: { readonly secret?: boolean } & Optional): ParamSpec<false>;
function url(description: string, options: { readonly secret?: boolean; readonly required?: boolean } = {}) {
  return { format: 'url', required: options.required ?? true, secret: options.secret ?? false, description };
}

function text(description: string, options?: Required): ParamSpec<true>;
function text(description: string, options: Optional): ParamSpec<false>;
function text(description: string, options: { readonly required?: boolean } = {}) {
  return { format: 'text', required: options.required ?? true, secret: false, description };
}

function secret(description: string, options?: Required): ParamSpec<true>;
function secret(description: string, options: Optional): ParamSpec<false>;
function secret(description: string, options: { readonly required?: boolean } = {}) {
  return { format: 'text', required: options.required ?? true, secret: true, description };
}

/** Shorthands for the params that recur across types; `{ required: false }` makes one optional. */
export const param = { url, text, secret } as const;
