import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * One environment variable: what a set value must look like (a JSON Schema; numbers and enums
 * are coerced from the text), its value when unset, how the checked text becomes the value the
 * code uses, and what it means (the README's settings table is made from these).
 */
export interface Setting<T> {
  readonly variable: string;
  readonly schema: TSchema;
  /** The value when unset or empty, before `parse`; none: undefined. */
  readonly default?: unknown;
  /** The value as the code uses it, from one the schema accepted (undefined: unset without a default); throws an Error saying what is wrong. */
  readonly parse: (value: unknown) => T;
  /** The message for a value the schema refuses, when the generic one would not say how to fix it. */
  readonly problem?: (error: ErrorObject, value: unknown) => string;
  /** What it means, in Markdown: the README's "meaning" column. */
  readonly description: string;
  /** The README's "default" column for a setting without a default; `unset` when not given. */
  readonly unset?: string;
}

type Spec<S extends TSchema, T> = Omit<Setting<T>, 'schema' | 'parse' | 'default'> & { readonly schema: S };

// `parse` is only ever given a value that `schema` accepted (settingsReader), hence the casts below.

/** A setting with a default: its value is never undefined. */
export function setting<S extends TSchema, T = Static<S>>(
  spec: Spec<S, T> & { readonly default: Static<S>; readonly parse?: (value: Static<S>) => T },
): Setting<T> {
  const { parse } = spec;
  return { ...spec, parse: (value) => (parse ? parse(value as Static<S>) : (value as T)) };
}

/** A setting that may stay unset. */
export function optional<S extends TSchema, T = Static<S> | undefined>(
  spec: Spec<S, T> & { readonly parse?: (value: Static<S> | undefined) => T },
): Setting<T> {
  const { parse } = spec;
  return { ...spec, parse: (value) => (parse ? parse(value as Static<S> | undefined) : (value as T)) };
}

/** One of these values (the text of a number is coerced to it). */
export function oneOf<const T extends string | number>(values: readonly T[]) {
  return Type.Unsafe<T>({ type: typeof values[0] === 'number' ? 'integer' : 'string', enum: values });
}

/** `a`, `b` or `c`, for a description. */
export const choices = (values: readonly (string | number)[]) =>
  values
    .map((value) => `\`${value}\``)
    .join(', ')
    .replace(/, ([^,]*)$/, ' or $1');

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The values of a table of settings, each as its `parse` makes it. */
export type ValuesOf<Table> = {
  readonly [K in keyof Table]: Table[K] extends Setting<infer T> ? T : never;
};

/** One setting's value, or what is wrong with it, each problem naming the variable; values are never repeated. */
function read(
  spec: Setting<unknown>,
  value: unknown,
  refused: ErrorObject[],
): { value: unknown } | { problems: string[] } {
  const { variable } = spec;
  if (refused.length > 0) {
    return {
      problems: refused.map((error) => {
        if (spec.problem) return spec.problem(error, value);
        if (error.keyword === 'enum') {
          return `${variable} must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`;
        }
        return `${variable} ${error.message ?? 'is invalid'}`;
      }),
    };
  }
  try {
    return { value: spec.parse(value) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { problems: [message.includes(variable) ? message : `${variable}: ${message}`] };
  }
}

/** The JSON Schema of an environment with these settings: one property per variable, with its default. */
export function settingsSchema(table: Readonly<Record<string, Setting<unknown>>>): TSchema {
  return Type.Object(
    Object.fromEntries(
      Object.values(table).map(({ variable, schema, default: fallback }) => [
        variable,
        fallback === undefined ? Type.Optional(schema) : { ...schema, default: fallback },
      ]),
    ),
  );
}

/**
 * Reads an environment against a table of settings: every variable checked by its schema, then
 * parsed. Throws one ConfigError naming every bad variable; values are never repeated.
 */
export function settingsReader<Table extends Readonly<Record<string, Setting<unknown>>>>(
  table: Table,
): (source: NodeJS.ProcessEnv) => ValuesOf<Table> {
  const specs = Object.entries(table);
  // Every command reads its settings first, so this compile is part of every start. validateSchema
  // off: checking the schema against the meta-schema would compile the meta-schema first, several
  // times the cost of this compile; the schema is fixed in the code and config.test.ts checks it.
  const ajv = new Ajv({ coerceTypes: true, allErrors: true, validateSchema: false });
  // Only the variables that are set are checked, so only they are compiled: a process reads one
  // environment, usually with a few of them set, and compiling all of them cost more than the rest
  // of reading. One validator per set of variables; an unset one takes its default (already typed).
  const validators = new Map<string, ValidateFunction>();
  const validatorFor = (given: readonly Setting<unknown>[]): ValidateFunction | undefined => {
    if (given.length === 0) return undefined;
    const key = given.map(({ variable }) => variable).join(',');
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile(settingsSchema(Object.fromEntries(given.map((spec) => [spec.variable, spec]))));
      validators.set(key, validate);
    }
    return validate;
  };
  return (source) => {
    const env: Record<string, unknown> = {};
    const given: Setting<unknown>[] = [];
    for (const [, spec] of specs) {
      const value = source[spec.variable];
      if (value !== undefined && value !== '') {
        env[spec.variable] = value;
        given.push(spec);
      } else if (spec.default !== undefined) {
        env[spec.variable] = spec.default;
      }
    }
    const validate = validatorFor(given);
    validate?.(env);
    const refused = validate?.errors ?? [];
    const values: Record<string, unknown> = {};
    const problems: string[] = [];
    for (const [name, spec] of specs) {
      const own = refused.filter((error) => error.instancePath === `/${spec.variable}`);
      const outcome = read(spec, env[spec.variable], own);
      if ('problems' in outcome) problems.push(...outcome.problems);
      else values[name] = outcome.value;
    }
    if (problems.length > 0) throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
    // Every entry of the table has its parsed value: what ValuesOf says.
    return values as ValuesOf<Table>;
  };
}
