import { type Static, type TSchema, Type } from '@sinclair/typebox';

/**
 * What a setting's schema refused in a value: the JSON Schema keyword, Ajv's message for it (the
 * words Ajv would say, which the messages below were written with) and its parameters.
 */
export interface SettingError {
  readonly keyword: string;
  readonly message: string;
  readonly params: Readonly<Record<string, unknown>>;
}

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
  readonly problem?: (error: SettingError, value: unknown) => string;
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
  refused: readonly SettingError[],
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
 * A value set in the environment (a string), checked against a setting's schema as Ajv would with
 * `coerceTypes` and `allErrors`: the value it becomes (a number for the numeric types) and what
 * the schema refuses. The settings' schemas use only these keywords: `type` (integer, number,
 * string), `enum`, `minimum`, `maximum`, `minLength`, `maxLength` and `pattern`; any other
 * throws (config.test.ts checks every setting's). The same answers and messages as Ajv's over
 * every setting and a grid of values, but for ±Infinity, which Ajv took for a bounded integer and
 * this refuses. Not Ajv itself: compiling even the few variables set cost ~3 % of a server's
 * start (issue 15), for a handful of comparisons.
 */
export function checkSetting(schema: TSchema, given: unknown): { value: unknown; errors: SettingError[] } {
  for (const key of Object.keys(schema)) {
    if (!SCHEMA_KEYWORDS.has(key)) throw new Error(`setting schemas do not take "${key}"`);
  }
  const errors: SettingError[] = [];
  let value = given;
  const { type } = schema as { type?: unknown };
  let typed = true;
  if (type === 'integer' || type === 'number') {
    // Ajv's coercion: a non-empty string that reads as a number (in JavaScript's syntax: ' 12 ',
    // '0x10', '1e3'); an integer only if it has no fraction.
    if (typeof value === 'string' && value !== '') {
      const number = Number(value);
      if (!Number.isNaN(number) && (type === 'number' || !(number % 1))) value = number;
    }
    typed = typeof value === 'number' && !Number.isNaN(value) && (type === 'number' || !(value % 1));
    if (!typed) errors.push({ keyword: 'type', message: `must be ${type}`, params: { type } });
  } else if (type === 'string') {
    typed = typeof value === 'string';
    if (!typed) errors.push({ keyword: 'type', message: 'must be string', params: { type } });
  } else if (type !== undefined) {
    throw new Error(`setting schemas do not take type ${String(type)}`);
  }
  const limits = schema as {
    minimum?: number;
    maximum?: number;
    minLength?: number;
    maxLength?: number;
    pattern?: string;
    enum?: readonly unknown[];
  };
  if (typed && typeof value === 'number') {
    // Ajv's order: maximum, then minimum. ±Infinity (which Ajv let through) is out of bounds.
    if (limits.maximum !== undefined && value > limits.maximum)
      errors.push(limit('maximum', '<=', limits.maximum));
    if (limits.minimum !== undefined && value < limits.minimum)
      errors.push(limit('minimum', '>=', limits.minimum));
  }
  if (typed && typeof value === 'string') {
    // Lengths in code points, as Ajv counts them.
    const length = [...value].length;
    if (limits.maxLength !== undefined && length > limits.maxLength)
      errors.push(lengthError('maxLength', 'more', limits.maxLength));
    if (limits.minLength !== undefined && length < limits.minLength)
      errors.push(lengthError('minLength', 'fewer', limits.minLength));
    if (limits.pattern !== undefined && !new RegExp(limits.pattern, 'u').test(value)) {
      errors.push({
        keyword: 'pattern',
        message: `must match pattern "${limits.pattern}"`,
        params: { pattern: limits.pattern },
      });
    }
  }
  if (limits.enum !== undefined && !limits.enum.includes(value)) {
    errors.push({
      keyword: 'enum',
      message: 'must be equal to one of the allowed values',
      params: { allowedValues: limits.enum },
    });
  }
  return { value, errors };
}

const SCHEMA_KEYWORDS = new Set([
  'type',
  'enum',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'default',
  'description',
]);

const limit = (keyword: string, comparison: string, bound: number): SettingError => ({
  keyword,
  message: `must be ${comparison} ${bound}`,
  params: { comparison, limit: bound },
});

const lengthError = (keyword: string, side: string, bound: number): SettingError => ({
  keyword,
  message: `must NOT have ${side} than ${bound} characters`,
  params: { limit: bound },
});

/**
 * Reads an environment against a table of settings: every variable set is checked by its schema
 * (checkSetting), then every value parsed. Throws one ConfigError naming every bad variable;
 * values are never repeated.
 */
export function settingsReader<Table extends Readonly<Record<string, Setting<unknown>>>>(
  table: Table,
): (source: NodeJS.ProcessEnv) => ValuesOf<Table> {
  const specs = Object.entries(table);
  return (source) => {
    const values: Record<string, unknown> = {};
    const problems: string[] = [];
    for (const [name, spec] of specs) {
      const given = source[spec.variable];
      // An unset (or empty) variable takes its default, already of its type; only what is set is checked.
      const checked =
        given !== undefined && given !== ''
          ? checkSetting(spec.schema, given)
          : { value: spec.default, errors: [] };
      const outcome = read(spec, checked.value, checked.errors);
      if ('problems' in outcome) problems.push(...outcome.problems);
      else values[name] = outcome.value;
    }
    if (problems.length > 0) throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
    // Every entry of the table has its parsed value: what ValuesOf says.
    return values as ValuesOf<Table>;
  };
}
