import { type ErrorDetail, errors } from '../errors.js';
import { isRecord } from '../is-record.js';
import { errorResponse } from './responses.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;
const MAX_START_INDEX = 2_147_483_647; // the spec's int32

/** The paging query of a list route, for its schema (parsePage reads it), keys in the order the document shows them. */
export const PageQuerySchema = {
  type: 'object',
  properties: {
    'start-index': {
      type: 'integer',
      format: 'int32',
      minimum: 0,
      default: 0,
      description: 'the starting point (beginning with 0) when paging through a list of entities',
    },
    'max-results': {
      type: 'integer',
      format: 'int32',
      minimum: 1,
      maximum: MAX_PAGE_SIZE,
      default: DEFAULT_PAGE_SIZE,
      description: 'the maximum number of results when paging through a list of entities',
    },
  },
} as const;

/** What parsePage refuses. */
export const pageErrors = {
  400: errorResponse('start-index or max-results is not an integer in range'),
} as const;

export interface Page {
  readonly offset: number;
  readonly limit: number;
}

function readInteger(
  query: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: ErrorDetail[],
): number {
  const raw = query[name];
  if (raw === undefined) return fallback;
  const range = `an integer from ${min} to ${max}`;
  if (typeof raw !== 'string') {
    problems.push({ field: name, message: `${name} was given more than once; give it once, as ${range}` });
    return fallback;
  }
  // ASCII digits only, leading zeros allowed (`007` is 7); no sign, space, point or exponent. Number()
  // reads such a string in decimal, and one of any length past the range is refused by it below.
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max)) {
    problems.push({ field: name, message: `${name} must be ${range}` });
    return fallback;
  }
  return value;
}

/** Reads `start-index` and `max-results`; anything but integers in range is a 400 naming the parameter. */
export function parsePage(query: unknown): Page {
  const values = isRecord(query) ? query : {};
  const problems: ErrorDetail[] = [];
  const offset = readInteger(values, 'start-index', 0, 0, MAX_START_INDEX, problems);
  const limit = readInteger(values, 'max-results', DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE, problems);
  if (problems.length > 0) throw errors.invalidQuery(problems);
  return { offset, limit };
}
