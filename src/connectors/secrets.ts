import type { Params } from './checks/types.js';
import type { ConnectorType } from './define.js';

/** What a secret param reads as for keys that may not see secrets. */
export const SECRET_PLACEHOLDER = '********';

/** The params with every secret of the type replaced by the placeholder. */
export function maskSecrets(type: ConnectorType, params: Params): Record<string, string> {
  const masked: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    masked[name] = type.secretParams.has(name) ? SECRET_PLACEHOLDER : value;
  }
  return masked;
}

/** Splits params into the ones stored in clear and the secrets, which are sealed. */
export function splitSecrets(
  type: ConnectorType,
  params: Params,
): { plain: Record<string, string>; secret: Record<string, string> } {
  const plain: Record<string, string> = {};
  const secret: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (type.secretParams.has(name)) secret[name] = value;
    else plain[name] = value;
  }
  return { plain, secret };
}

/**
 * Joins the two halves again, in the order the type declares its params; a stored param the type
 * no longer declares comes after them.
 */
export function joinSecrets(type: ConnectorType, plain: Params, secret: Params): Record<string, string> {
  const ordered: Record<string, string> = {};
  let placed = 0;
  for (const name of type.paramNames) {
    // A secret over a plain param of the same name, as `{ ...plain, ...secret }` has it.
    const value = Object.hasOwn(secret, name)
      ? secret[name]
      : Object.hasOwn(plain, name)
        ? plain[name]
        : undefined;
    if (value === undefined) continue;
    ordered[name] = value;
    placed++;
  }
  // Every stored param declared, none in both halves (the usual case): nothing comes after them.
  if (placed === Object.keys(plain).length + Object.keys(secret).length) return ordered;
  return { ...ordered, ...plain, ...secret };
}

/**
 * For an update: a secret sent back as the placeholder keeps its stored value; with
 * `keepOmitted` (secrets are write-only), so does a secret left out of the body. A placeholder
 * with nothing stored behind it means "no value". Stored secrets are never kept when a URL param
 * changes (a secret URL too, such as a webhook URL with its token): otherwise a caller who cannot
 * read a secret could point the connector at a host of theirs and have a credential check deliver
 * it there. Such a secret is `refused` rather than dropped, whether it came back as the placeholder
 * or was left out: the caller sends it again with the new URL (or, for an optional one, sends it
 * empty). Non-string values are left for validation.
 */
export function keepStoredSecrets(
  type: ConnectorType,
  params: Readonly<Record<string, unknown>>,
  stored: Params,
  { keepOmitted }: { keepOmitted: boolean },
): { params: Record<string, unknown>; refused: string[] } {
  const wantsKept = (name: string) =>
    params[name] === SECRET_PLACEHOLDER || (params[name] === undefined && keepOmitted);
  /**
   * The value a param has after the update: a kept secret keeps its stored one, which is no value
   * when nothing was stored (so the placeholder for a secret URL never stored is no URL change).
   */
  const after = (name: string) =>
    type.secretParams.has(name) && wantsKept(name) ? stored[name] : params[name];
  const urlChanged = Object.entries(type.params).some(
    ([name, spec]) => spec.format === 'url' && after(name) !== stored[name],
  );
  const merged: Record<string, unknown> = { ...params };
  const refused: string[] = [];
  for (const name of type.secretParams) {
    const storedValue = stored[name];
    if (!wantsKept(name)) continue;
    if (storedValue === undefined) delete merged[name];
    else if (urlChanged) refused.push(name);
    else merged[name] = storedValue;
  }
  return { params: merged, refused };
}
