import { describe, expect, it } from 'vitest';
import { connectorTypes, type RegisteredType } from '../connectors/registry.js';
import { ConnectorCache, JOIN_WITHIN_MS } from './connector-cache.js';
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

  describe('read', () => {
    /** A load that resolves when told, counting how often it was called. */
    function loads() {
      const pending: {
        resolve: (found: StoredConnector | undefined) => void;
        reject: (error: Error) => void;
      }[] = [];
      const load = () =>
        new Promise<StoredConnector | undefined>((resolve, reject) => {
          pending.push({ resolve, reject });
        });
      return { load, pending };
    }

    it('shares a read in flight with the reads of the same connector that come meanwhile, and keeps it', async () => {
      const cache = new ConnectorCache(fakeChanges());
      const { load, pending } = loads();
      const first = cache.read(1, 'c1', load);
      const second = cache.read(1, 'c1', load);
      expect(pending).toHaveLength(1);
      pending[0]?.resolve(connector('c1'));
      expect((await first)?.id).toBe('c1');
      expect(await second).toBe(await first);
      expect(cache.lookup(1, 'c1')).toBe(await first);
    });

    it('shares nothing across accounts or connectors', async () => {
      const cache = new ConnectorCache(fakeChanges());
      const { load, pending } = loads();
      const reads = [cache.read(1, 'c1', load), cache.read(2, 'c1', load), cache.read(1, 'c2', load)];
      expect(pending).toHaveLength(3);
      pending[0]?.resolve(connector('c1', 'one'));
      pending[1]?.resolve(connector('c1', 'two'));
      pending[2]?.resolve(connector('c2'));
      expect((await Promise.all(reads)).map((found) => found?.name)).toEqual(['one', 'two', 'c2']);
    });

    it('reads anew once the connector changed after the read in flight began (a write of this process, a notice, a doubt)', async () => {
      const changes = fakeChanges();
      const cache = new ConnectorCache(changes);
      const { load, pending } = loads();
      const stale = cache.read(1, 'c1', load);
      // A write of this process forgets it (before it is answered): a read after that must see it.
      cache.forget(1, 'c1');
      const fresh = cache.read(1, 'c1', load);
      expect(pending).toHaveLength(2);
      // Another connector's change does not matter to it.
      changes.tell(1, 'c9');
      const shared = cache.read(1, 'c1', load);
      expect(pending).toHaveLength(2);
      changes.tellAll();
      const afterDoubt = cache.read(1, 'c1', load);
      expect(pending).toHaveLength(3);
      pending[0]?.resolve(connector('c1', 'old'));
      pending[1]?.resolve(connector('c1', 'new'));
      pending[2]?.resolve(connector('c1', 'newest'));
      expect((await stale)?.name).toBe('old');
      expect((await fresh)?.name).toBe('new');
      expect(await shared).toBe(await fresh);
      expect((await afterDoubt)?.name).toBe('newest');
      // Only what the last read found is kept: the others began before a change.
      expect(cache.lookup(1, 'c1')?.name).toBe('newest');
    });

    it('shares nothing while not listening', async () => {
      const changes = fakeChanges();
      changes.listening = false;
      const cache = new ConnectorCache(changes);
      const { load, pending } = loads();
      const reads = [cache.read(1, 'c1', load), cache.read(1, 'c1', load)];
      expect(pending).toHaveLength(2);
      for (const read of pending) read.resolve(connector('c1'));
      await Promise.all(reads);
      expect(cache.lookup(1, 'c1')).toBeNull();
    });

    it('shares a failure with the reads that joined it, and the next read tries again', async () => {
      const cache = new ConnectorCache(fakeChanges());
      const { load, pending } = loads();
      const first = cache.read(1, 'c1', load);
      const second = cache.read(1, 'c1', load);
      pending[0]?.reject(new Error('the database is gone'));
      await expect(first).rejects.toThrow('the database is gone');
      await expect(second).rejects.toThrow('the database is gone');
      const again = cache.read(1, 'c1', load);
      expect(pending).toHaveLength(2);
      pending[1]?.resolve(undefined);
      expect(await again).toBeUndefined();
      // Nothing found is not kept, and nothing stays in flight: the next read asks again.
      void cache.read(1, 'c1', load);
      expect(pending).toHaveLength(3);
    });

    it('does not answer the reads that joined a read which found nothing: each reads again', async () => {
      const cache = new ConnectorCache(fakeChanges());
      const { load, pending } = loads();
      const first = cache.read(1, 'c1', load);
      const joined = cache.read(1, 'c1', load);
      const alsoJoined = cache.read(1, 'c1', load);
      expect(pending).toHaveLength(1);
      pending[0]?.resolve(undefined);
      expect(await first).toBeUndefined();
      // Each read that joined asks again, at once and on its own (not one after another); here
      // the connector exists by now for one of them.
      await Promise.resolve();
      await Promise.resolve();
      expect(pending).toHaveLength(3);
      pending[1]?.resolve(connector('c1'));
      pending[2]?.resolve(undefined);
      expect((await joined)?.id).toBe('c1');
      expect(await alsoJoined).toBeUndefined();
    });

    it(`joins only a read begun less than ${JOIN_WITHIN_MS} ms ago: one that hangs holds up only its first moments`, async () => {
      let now = 1_000;
      const cache = new ConnectorCache(fakeChanges(), () => now);
      const { load, pending } = loads();
      const hanging = cache.read(1, 'c1', load);
      now += JOIN_WITHIN_MS - 1;
      const joined = cache.read(1, 'c1', load);
      expect(pending).toHaveLength(1);
      now += 1;
      const own = cache.read(1, 'c1', load);
      expect(pending).toHaveLength(2);
      // The newest read is the one later reads join.
      const joinedNewest = cache.read(1, 'c1', load);
      expect(pending).toHaveLength(2);
      pending[1]?.resolve(connector('c1', 'new'));
      expect((await own)?.name).toBe('new');
      expect(await joinedNewest).toBe(await own);
      pending[0]?.resolve(connector('c1', 'late'));
      expect((await hanging)?.name).toBe('late');
      expect((await joined)?.name).toBe('late');
    });
  });
});
