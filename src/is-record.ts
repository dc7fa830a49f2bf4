/**
 * A JSON object: not null, not an array. The one guard for "an object whose keys we may read"
 * (request bodies, targets' answers, schemas); what is inside stays `unknown`.
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
