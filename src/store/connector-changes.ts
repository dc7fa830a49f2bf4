import type pg from 'pg';

/** The channel migration 0008's trigger notifies on every update, delete and truncate of a connector row. */
export const CONNECTOR_CHANNEL = 'plugboard_connectors';

/** What a cache of connectors is told (connector-cache.ts). */
export interface ChangeWatcher {
  /** A connector of this account changed or went: committed, by any process. */
  changed(accountId: number, id: string): void;
  /**
   * Anything may have changed unseen: the listening connection went down (notices in between are
   * lost), it began listening (what committed before was never told), or the table was truncated.
   */
  changedAll(): void;
}

/**
 * PostgreSQL's notices of committed changes to connectors (LISTEN on a connection of its own,
 * outside the pool). While `listening` is true, every change committed from the moment it became
 * true is told to the watchers, in commit order, once its notice arrives (usually well under a
 * millisecond after the commit); any doubt (an error, the connection closed, a heartbeat not
 * answered) makes it false and tells `changedAll` before anything else can happen.
 */
export interface ConnectorChanges {
  readonly listening: boolean;
  /** Begins listening (once; later calls do nothing), and keeps reconnecting until closed. */
  start(): void;
  watch(watcher: ChangeWatcher): void;
  close(): Promise<void>;
}

export interface ListenOptions {
  /** A new, unconnected client with the pool's settings (search_path included). */
  readonly client: () => pg.Client;
  /** Before reconnecting after a failure (1 s). */
  readonly retryMs?: number;
  /**
   * How often the listening connection is asked a `select 1` (5 s): a network that goes silent
   * gives no error for minutes, and notices lost meanwhile would leave kept connectors stale. The
   * client's query_timeout bounds the wait for the answer.
   */
  readonly heartbeatMs?: number;
}

interface Notice {
  readonly schema?: unknown;
  readonly account?: unknown;
  readonly id?: unknown;
}

export function listenForChanges(options: ListenOptions): ConnectorChanges {
  const retryMs = options.retryMs ?? 1_000;
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  const watchers: ChangeWatcher[] = [];
  let started = false;
  let closed = false;
  let listening = false;
  /** The client now in use (connecting or listening); a failure of any other is old news. */
  let current: pg.Client | undefined;
  /** The schema the connection works in (the channel is the whole database's). */
  let schema: string | undefined;
  let retry: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const all = () => {
    for (const watcher of watchers) watcher.changedAll();
  };

  function told(payload: string | undefined): void {
    let notice: Notice;
    try {
      notice = JSON.parse(payload ?? '') as Notice;
    } catch {
      all();
      return;
    }
    if (notice.schema !== schema) return;
    if (typeof notice.account === 'number' && typeof notice.id === 'string') {
      for (const watcher of watchers) watcher.changed(notice.account, notice.id);
    } else all();
  }

  function fail(client: pg.Client): void {
    if (client !== current) return;
    current = undefined;
    listening = false;
    clearInterval(heartbeat);
    all();
    client.end().catch(() => {});
    if (!closed) retry = setTimeout(connect, retryMs).unref();
  }

  async function connect(): Promise<void> {
    if (closed) return;
    const client = options.client();
    current = client;
    client.on('error', () => fail(client));
    client.on('end', () => fail(client));
    client.on('notification', (message) => {
      if (client === current && message.channel === CONNECTOR_CHANNEL) told(message.payload);
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ schema: string | null }>('select current_schema() as schema');
      schema = rows[0]?.schema ?? undefined;
      await client.query(`listen ${CONNECTOR_CHANNEL}`);
    } catch {
      fail(client);
      return;
    }
    if (client !== current || closed) return;
    // From here every commit is told; reads begun before may have missed one.
    listening = true;
    all();
    heartbeat = setInterval(() => {
      client.query('select 1').catch(() => fail(client));
    }, heartbeatMs).unref();
  }

  return {
    get listening() {
      return listening;
    },
    start() {
      if (started || closed) return;
      started = true;
      void connect();
    },
    watch(watcher) {
      watchers.push(watcher);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(heartbeat);
      const client = current;
      current = undefined;
      listening = false;
      all();
      await client?.end().catch(() => {});
    },
  };
}
