import type { TSchema } from '@sinclair/typebox';
import type { Params } from './checks/types.js';
import { connectorTypes } from './registry.js';

// The README's type tables, made from the registry (test/readme.test.ts keeps README.md equal to
// them; UPDATE_README=1 rewrites it). Each row is what the type declares: its params, its check's
// description or the reason it cannot be checked, and what and how it delivers.

function cell(text: string): string {
  // A request such as `GET {url}/api/v1/users/me` reads as code; a `|` would end the cell.
  return text
    .replaceAll('|', '\\|')
    .replace(/\b(?:GET|POST|PUT|PATCH) (?:\{|https?:|…)[^\s,;]*/g, (request) =>
      // Not a request cut inside a `{…}` that goes on past a space: a half in code would read wrong.
      request.split('{').length === request.split('}').length ? `\`${request}\`` : request,
    );
}

/** "Connector types and their params": `url`*, `password`* (secret), or none. */
export function paramsTable(): string {
  const rows = connectorTypes.map((type) => {
    const params = Object.entries(type.params).map(
      ([name, spec]) => `\`${name}\`${spec.required ? '*' : ''}${spec.secret ? ' (secret)' : ''}`,
    );
    return `| \`${type.id}\` | ${params.length > 0 ? params.join(', ') : 'none: `{}`'} |`;
  });
  return ['| type | params |', '| --- | --- |', ...rows].join('\n');
}

/** "Credential checks": what each type's check asks of its target, or why it cannot ask. */
export function checksTable(): string {
  const rows = connectorTypes.map(({ id, check }) => {
    if (check.kind === 'online') return `| \`${id}\` | ${cell(check.description)} |`;
    const offline = check.validate ? `; checked offline: ${check.validate.description}` : '';
    return `| \`${id}\` | \`not_checkable\`: ${cell(check.reason)}${cell(offline)} |`;
  });
  return ['| type | the check |', '| --- | --- |', ...rows].join('\n');
}

/** One option of a delivery: `name`* (required), its description, its values when they are a few literals. */
function optionCell(name: string, schema: TSchema, required: boolean): string {
  const literals: unknown[] = Array.isArray(schema.anyOf)
    ? schema.anyOf.map((member: TSchema) => member.const)
    : [];
  const values =
    literals.length > 0 && literals.every((v) => typeof v === 'string')
      ? `; one of ${literals.map((v) => `\`${String(v)}\``).join(', ')}`
      : schema.type === 'array'
        ? ' (a list)'
        : '';
  const description = typeof schema.description === 'string' ? `: ${cell(schema.description)}` : '';
  return `\`${name}\`${required ? '*' : ''}${description}${values}`;
}

/**
 * "What each type delivers": its kind, the requests an event makes, its options, and when a delivery
 * through it is refused with 422 (what `missing` says of a connector that lacks something, by the
 * params in `cannotDeliver`, e.g. a fixture's). A type without `deliver` reads "not yet".
 */
export function deliveriesTable(cannotDeliver: ReadonlyMap<string, Params> = new Map()): string {
  const rows = connectorTypes.map(({ id, deliver }) => {
    if (!deliver) return `| \`${id}\` | not yet | – | – | every delivery: the type does not deliver yet |`;
    const required = new Set(deliver.options.required ?? []);
    const options = Object.entries(deliver.options.properties).map(([name, schema]) =>
      optionCell(name, schema, required.has(name)),
    );
    const lacking = cannotDeliver.get(id);
    const refused = lacking === undefined ? undefined : deliver.missing?.(lacking);
    return `| \`${id}\` | ${deliver.kind} | ${cell(deliver.description)} | ${options.length > 0 ? options.join('<br>') : 'none'} | ${refused ? cell(refused) : '–'} |`;
  });
  return [
    '| type | kind | requests per event | options (`*` required) | 422 when |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
