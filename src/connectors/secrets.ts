import type { ConnectorType } from './define.js';

/** What a secret param reads as for keys that may not see secrets. */
export const SECRET_PLACEHOLDER = '********';

/** The params with every secret of the type replaced by the placeholder. An unknown type masks everything. */
export function maskSecrets(
  type: ConnectorType | undefined,
  params: Readonly<Record<string, string>>,
): Record<string, string> {
  const masked: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    masked[name] = type === undefined || type.secretParams.has(name) ? SECRET_PLACEHOLDER : value;
  }
  return masked;
}
