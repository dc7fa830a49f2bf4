import { describe, expect, it } from 'vitest';
import { storedConnectorType } from '../connectors/registry.js';
import { presentConnector } from '../http/present.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { connectorRowCodec, type ReadConnectorRow } from './connector-row.js';

/** A box that seals as plain JSON and counts what it opens. */
function countingBox() {
  const box = {
    opened: 0,
    seal: (_id: string, _type: string, secrets: Readonly<Record<string, string>>) => ({
      sealed: JSON.stringify(secrets),
      keyId: 'k1',
    }),
    open: (_id: string, _type: string, { sealed }: { sealed: string }) => {
      box.opened++;
      return JSON.parse(sealed) as Record<string, string>;
    },
    primaryKeyId: () => 'k1',
  };
  return box satisfies SecretBox;
}

function rowOf(id: string, updatedAt = '2026-12-04T10:00:00.000Z'): ReadConnectorRow {
  return {
    id,
    account_id: 1,
    seq: 1,
    type: 'jira',
    name: `connector ${id}`,
    params: JSON.stringify({ url: 'https://x.example.com', email: 'a@b.c' }),
    secrets: JSON.stringify({ password: 'hunter22' }),
    secret_key_id: 'k1',
    last_check: null,
    created_at: '2026-12-04T10:00:00.000Z',
    updated_at: updatedAt,
  };
}

describe('connector row codec', () => {
  it('keeps a connector from its second read on: the first read is opened for that request alone, unfrozen', () => {
    const box = countingBox();
    const codec = connectorRowCodec(box);
    const first = codec.open(rowOf('a'));
    expect(Object.isFrozen(first)).toBe(false);
    expect(first.params).toEqual({ url: 'https://x.example.com', email: 'a@b.c', password: 'hunter22' });
    const second = codec.open(rowOf('a'));
    expect(Object.isFrozen(second)).toBe(true);
    expect(Object.isFrozen(second.params)).toBe(true);
    const third = codec.open(rowOf('a'));
    expect(third).toBe(second);
    expect(box.opened).toBe(2);
  });

  it('opens a new version of a kept connector again, and keeps that at once', () => {
    const box = countingBox();
    const codec = connectorRowCodec(box);
    codec.open(rowOf('a'));
    const kept = codec.open(rowOf('a'));
    const changed = codec.open(rowOf('a', '2026-12-04T10:00:00.001Z'));
    expect(changed).not.toBe(kept);
    expect(changed.updatedAt).toBe('2026-12-04T10:00:00.001Z');
    expect(Object.isFrozen(changed)).toBe(true);
    expect(codec.open(rowOf('a', '2026-12-04T10:00:00.001Z'))).toBe(changed);
    expect(box.opened).toBe(3);
  });

  it('a row read once in a walk of 20,000 rows leaves nothing kept: reading it again opens it again', () => {
    const box = countingBox();
    const codec = connectorRowCodec(box);
    for (let i = 0; i < 20_000; i++) codec.open(rowOf(`w${i}`));
    expect(box.opened).toBe(20_000);
    const again = codec.open(rowOf('w0'));
    expect(box.opened).toBe(20_001);
    expect(Object.isFrozen(again)).toBe(true);
  });

  it('keeps at most 10,000 connectors: the first of 10,001 kept ones is opened again', () => {
    const box = countingBox();
    const codec = connectorRowCodec(box);
    for (let i = 0; i <= 10_000; i++) codec.open(rowOf(`k${i}`));
    const kept = Array.from({ length: 10_001 }, (_, i) => codec.open(rowOf(`k${i}`)));
    expect(box.opened).toBe(2 * 10_001);
    // Still kept: the last one (no open); gone: the first one (opened again).
    expect(codec.open(rowOf('k10000'))).toBe(kept[10_000]);
    expect(box.opened).toBe(2 * 10_001);
    expect(codec.open(rowOf('k0'))).not.toBe(kept[0]);
    expect(box.opened).toBe(2 * 10_001 + 1);
  });

  it('keeps a written version of a connector read before, and answers the write with an unfrozen twin', () => {
    const box = countingBox();
    const codec = connectorRowCodec(box);
    const type = storedConnectorType('jira', 'test');
    codec.open(rowOf('u'));
    const before = codec.open(rowOf('u'));
    const row = rowOf('u', '2026-12-04T10:00:00.002Z');
    const params = { url: 'https://y.example.com', email: 'a@b.c', password: 'hunter23' };
    const parts = codec.sealParts('u', type, params);
    const answer = codec.written({ ...row, ...parts.columns }, parts);
    // The answer's views, ETag and JSON are its request's alone (present.ts).
    expect(Object.isFrozen(answer)).toBe(false);
    expect(Object.isFrozen(presentConnector(answer, 'write', 'write-keys'))).toBe(false);
    expect(answer.params).toEqual(params);
    const opened = box.opened;
    const read = codec.open({ ...row, ...parts.columns });
    expect(box.opened).toBe(opened);
    expect(read).not.toBe(before);
    expect(Object.isFrozen(read)).toBe(true);
    expect(read).toEqual(answer);
  });

  it('a connector not kept is presented unfrozen (its view, ETag and JSON are not kept); a kept one frozen, once per view', () => {
    const codec = connectorRowCodec(countingBox());
    const once = codec.open(rowOf('p'));
    const view = presentConnector(once, 'write', 'write-keys');
    expect(Object.isFrozen(view)).toBe(false);
    expect(presentConnector(once, 'write', 'write-keys')).not.toBe(view);
    const kept = codec.open(rowOf('p'));
    const revealed = presentConnector(kept, 'write', 'write-keys');
    expect(Object.isFrozen(revealed)).toBe(true);
    expect(presentConnector(kept, 'write', 'write-keys')).toBe(revealed);
    expect(revealed.params.password).toBe('hunter22');
    const masked = presentConnector(kept, 'read', 'write-keys');
    expect(masked.params.password).not.toBe('hunter22');
    expect(view.params.password).toBe('hunter22');
    expect(presentConnector(once, 'read', 'write-keys').params.password).toBe(masked.params.password);
  });
});
