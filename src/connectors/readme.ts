import { connectorTypes } from './registry.js';

// The README's two type tables, made from the registry (test/readme.test.ts keeps README.md equal to
// them; UPDATE_README=1 rewrites it). Each row is what the type declares: its params, and its check's
// description or the reason it cannot be checked.

function cell(text: string): string {
  // A request such as `GET {url}/api/v1/users/me` reads as code; a `|` would end the cell.
  return text
    .replaceAll('|', '\\|')
    .replace(/\b(?:GET|POST) (?:\{|https?:)[^\s,;]*/g, (request) => `\`${request}\``);
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
