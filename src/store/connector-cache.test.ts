import { describe, expect, it } from 'vitest';
import { connectorTypes, type RegisteredType } from '../connectors/registry.js';
import { ConnectorCache } from './connector-cache.js';
import type { ChangeWatcher, ConnectorChanges } from './connector-changes.js';
import type { StoredConnector } from './connector-row.js';

/** Notices told by hand. */
function fakeChanges() {
  const watchers: ChangeWatcher[] = [];
  const changes = {
    listening: true,
    started: 0,
    start() {
      changes.started++;
    },
    watch: (watcher: ChangeWatcher) => watchers.push(watcher),
    close: async () => {},
    tell: (accountId: number, id: string) => {
      for (const watcher of watchers) watcher.changed(accountId, id);
    },
    tellAll: () => {
      for (const watcher of watchers) watcher.changedAll();
    },
  };
  return changes satisfies ConnectorChanges;
}

const slack = connectorTypes.find((type) => type.id === 'slack') as RegisteredType;
const connector = (id: string, name = id): StoredConnector =>
  Object.freeze({ id, type: slack, name, params: Object.freeze({}), createdAt: 'c', updatedAt: 'u' });

describe('ConnectorCache', () => {
  it('keeps a frozen connector read while listening, by account and id', () => {
    const changes = fakeChanges();
    const cache = new ConnectorCache(changes);
    const ticket = cache.ticket();
    expect(changes.started).toBe(1);
    cache.keep(ticket, 1, 'c1', connector('c1'));
    expect(cache.lookup(1, 'c1')?.id).toBe('c1');
    expect(cache.lookup(2, 'c1')).toBeNull();
    // Not frozen (a request's own), or nothing found: not kept.
    cache.keep(ticket, 1, 'c2', { ...connector('c2') });
    cache.keep(ticket, 1, 'c3', undefined);
    expect(cache.lookup(1, 'c2')).toBeNull();
    expect(cache.lookup(1, 'c3')).toBeNull();
  });

  it('answers nothing and keeps nothing while not listening', () => {
    const changes = fakeChanges();
    const cache = new ConnectorCache(changes);
    cache.keep(cache.ticket(), 1, 'c1', connector('c1'));
    changes.listening = false;
    expect(cache.lookup(1, 'c1')).toBeNull();
    cache.keep(cache.ticket(), 1, 'c2', connector('c2'));
    changes.listening = true;
    expect(cache.lookup(1, 'c2')).toBeNull();
  });

  it('drops a changed connector, and refuses a read of it begun before the notice', () => {
    const changes = fakeChanges();
    const cache = new ConnectorCache(changes);
    cache.keep(cache.ticket(), 1, 'c1', connector('c1'));
    cache.keep(cache.ticket(), 1, 'c2', connector('c2'));
    const before = cache.ticket();
    changes.tell(1, 'c1');
    expect(cache.lookup(1, 'c1')).toBeNull();
    expect(cache.lookup(1, 'c2')).not.toBeNull();
    // A read that began before the change may have seen the old version: not kept.
    cache.keep(before, 1, 'c1', connector('c1', 'old'));
    expect(cache.lookup(1, 'c1')).toBeNull();
    // Another connector's read of that time is.
    cache.keep(before, 1, 'c3', connector('c3'));
    expect(cache.lookup(1, 'c3')).not.toBeNull();
    // A read begun after is.
    cache.keep(cache.ticket(), 1, 'c1', connector('c1', 'new'));
    expect(cache.lookup(1, 'c1')?.name).toBe('new');
  });

  it('drops everything on a doubt, and refuses every read begun before it', () => {
    const changes = fakeChanges();
    const cache = new ConnectorCache(changes);
    cache.keep(cache.ticket(), 1, 'c1', connector('c1'));
    const before = cache.ticket();
    changes.tellAll();
    expect(cache.lookup(1, 'c1')).toBeNull();
    cache.keep(before, 1, 'c2', connector('c2'));
    expect(cache.lookup(1, 'c2')).toBeNull();
    cache.keep(cache.ticket(), 1, 'c2', connector('c2'));
    expect(cache.lookup(1, 'c2')).not.toBeNull();
  });

  it('refuses the reads in flight when it stops remembering changes one by one', () => {
    const changes = fakeChanges();
    const cache = new ConnectorCache(changes);
    const before = cache.ticket();
    for (let i = 0; i < 10_001; i++) changes.tell(1, `x${i}`);
    cache.keep(before, 1, 'c1', connector('c1'));
    expect(cache.lookup(1, 'c1')).toBeNull();
    cache.keep(cache.ticket(), 1, 'c1', connector('c1'));
    expect(cache.lookup(1, 'c1')).not.toBeNull();
  });
});
