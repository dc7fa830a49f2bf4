import { settings } from '../src/config.js';

/** The README's settings table, from the settings declaration (src/config.ts). */
export function settingsTable(): string {
  const rows = Object.values(settings).map((setting) => {
    const fallback =
      setting.default === undefined ? (setting.unset ?? 'unset') : `\`${String(setting.default)}\``;
    return `| \`${setting.variable}\` | ${fallback} | ${setting.description} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
