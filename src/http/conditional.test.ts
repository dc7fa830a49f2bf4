import { describe, expect, it } from 'vitest';
import { storedConnectorType } from '../connectors/registry.js';
import { AppError } from '../errors.js';
import type { StoredConnector } from '../store/connector-store.js';
import { etagOf, ifMatch } from './conditional.js';

const TAG = /^"[A-Za-z0-9_-]{22}"$/;

describe('etagOf', () => {
  it('digests an unfrozen representation (a replayed body) afresh: a change shows in its ETag', () => {
    const body = { id: 'c1', name: 'before' };
    const before = etagOf(body);
    expect(before).toMatch(TAG);
    expect(etagOf({ name: 'before', id: 'c1' })).toBe(before); // keys sorted
    body.name = 'after';
    expect(etagOf(body)).not.toBe(before);
  });

  it('digests a frozen representation once: its ETag goes with the object, as a stored view never changes', () => {
    // present.ts freezes each view; only something inside a shallow freeze can still move.
    const params = { url: 'https://a.example.com' };
    const view = Object.freeze({ id: 'c1', params });
    const etag = etagOf(view);
    params.url = 'https://b.example.com';
    expect(etagOf(view)).toBe(etag);
    expect(etagOf({ ...view })).not.toBe(etag);
  });

  it('tags any JSON value, null and a string included, without caching them', () => {
    const tags = [etagOf(null), etagOf('null'), etagOf(''), etagOf(0)];
    for (const tag of tags) expect(tag).toMatch(TAG);
    expect(new Set(tags).size).toBe(tags.length);
  });
});

describe('ifMatch', () => {
  const stored: StoredConnector = {
    id: 'c1',
    type: storedConnectorType('jira', 'the test'),
    name: 'guarded',
    params: { url: 'https://jira.example.com', email: 'e', password: 'p' },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
  const view = Object.freeze({ id: stored.id, name: stored.name });
  const present = () => view;
  const current = etagOf(view);

  it('without the header sets no precondition', () => {
    expect(ifMatch(undefined, present)).toBeUndefined();
  });

  it('ignores spaces around the value and around each listed tag', () => {
    expect(() => ifMatch(' * ', present)?.(stored)).not.toThrow();
    expect(() => ifMatch(` "nope" ,  ${current} `, present)?.(stored)).not.toThrow();
    expect(() => ifMatch(` ${current} `, present)?.(stored)).not.toThrow();
  });

  it('an empty list item matches nothing', () => {
    expect(() => ifMatch('"nope",,', present)?.(stored)).toThrow(AppError);
    expect(() => ifMatch(',', present)?.(stored)).toThrow(AppError);
  });

  it('a mismatch is PRECONDITION_FAILED with the current ETag in the message and the ETag header', () => {
    const precondition = ifMatch('"stale-tag-xxxxxxxxxxxxx"', present);
    let thrown: unknown;
    try {
      precondition?.(stored);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringContaining(`its ETag is now ${current}`),
      headers: { ETag: current },
    });
  });
});
