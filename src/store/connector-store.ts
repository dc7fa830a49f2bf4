import type { Kysely } from 'kysely';
import { errors } from '../errors.js';
import { isUniqueViolation } from './errors.js';
import { laterThan, newId, nowIso } from './ids.js';
import type { ConnectorRow, Database } from './schema.js';

export interface StoredConnector {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly params: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ConnectorFields {
  readonly type: string;
  readonly name: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Connectors of one account at a time: every method is scoped by the caller's account. */
export interface ConnectorStore {
  create(accountId: number, fields: ConnectorFields): Promise<StoredConnector>;
  get(accountId: number, id: string): Promise<StoredConnector | undefined>;
  getByName(accountId: number, name: string): Promise<StoredConnector | undefined>;
  /** A page in creation order. */
  list(accountId: number, offset: number, limit: number): Promise<StoredConnector[]>;
  /** Replaces name and params; undefined when the connector does not exist (any more). */
  update(
    accountId: number,
    id: string,
    fields: Omit<ConnectorFields, 'type'>,
  ): Promise<StoredConnector | undefined>;
  delete(accountId: number, id: string): Promise<boolean>;
}

function fromRow(row: ConnectorRow): StoredConnector {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    params: JSON.parse(row.params) as Record<string, string>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function createConnectorStore(db: Kysely<Database>): ConnectorStore {
  const columns = ['id', 'account_id', 'seq', 'type', 'name', 'params', 'created_at', 'updated_at'] as const;

  return {
    async create(accountId, fields) {
      const now = nowIso();
      try {
        const row = await db
          .insertInto('connectors')
          .values({
            id: newId(),
            account_id: accountId,
            type: fields.type,
            name: fields.name,
            params: JSON.stringify(fields.params),
            created_at: now,
            updated_at: now,
          })
          .returning(columns)
          .executeTakeFirstOrThrow();
        return fromRow(row);
      } catch (error) {
        if (isUniqueViolation(error)) throw errors.nameTaken(fields.name);
        throw error;
      }
    },

    async get(accountId, id) {
      const row = await db
        .selectFrom('connectors')
        .select(columns)
        .where('id', '=', id)
        .where('account_id', '=', accountId)
        .executeTakeFirst();
      return row && fromRow(row);
    },

    async getByName(accountId, name) {
      const row = await db
        .selectFrom('connectors')
        .select(columns)
        .where('account_id', '=', accountId)
        .where('name', '=', name)
        .executeTakeFirst();
      return row && fromRow(row);
    },

    async list(accountId, offset, limit) {
      const rows = await db
        .selectFrom('connectors')
        .select(columns)
        .where('account_id', '=', accountId)
        .orderBy('seq')
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(fromRow);
    },

    async update(accountId, id, fields) {
      try {
        return await db.transaction().execute(async (trx) => {
          const current = await trx
            .selectFrom('connectors')
            .select('updated_at')
            .where('id', '=', id)
            .where('account_id', '=', accountId)
            .executeTakeFirst();
          if (!current) return undefined;
          const row = await trx
            .updateTable('connectors')
            .set({
              name: fields.name,
              params: JSON.stringify(fields.params),
              updated_at: laterThan(current.updated_at),
            })
            .where('id', '=', id)
            .where('account_id', '=', accountId)
            .returning(columns)
            .executeTakeFirst();
          return row && fromRow(row);
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw errors.nameTaken(fields.name);
        throw error;
      }
    },

    async delete(accountId, id) {
      const result = await db
        .deleteFrom('connectors')
        .where('id', '=', id)
        .where('account_id', '=', accountId)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
