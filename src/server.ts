import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { bootstrapKeys } from './bootstrap.js';
import type { Config } from './config.js';
import { createLogger } from './logger.js';
import { migrateToLatest, openDatabase } from './store/database.js';
import { createKeyStore } from './store/key-store.js';

/** `plugboard serve`: migrate, make sure a key exists, listen, and shut down with grace on a signal. */
export async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const database = openDatabase(config.database, { synchronous: config.sqliteSynchronous });
  try {
    const { applied } = await migrateToLatest(database);
    if (applied.length > 0) logger.info({ applied }, 'database migrated');
    await bootstrapKeys(createKeyStore(database.db), config.apiKey, logger, (text) =>
      process.stdout.write(`${text}\n`),
    );
  } catch (error) {
    await database.close();
    throw error;
  }

  const app = await buildApp({ database, logger, createStatus: config.createStatus, closeDatabase: true });
  closeWithGrace(
    { delay: 10_000, logger: { error: (message) => logger.error(message) } },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'shutting down after an uncaught error');
      else logger.info({ signal }, 'shutting down: finishing requests in flight');
      await app.close();
      logger.info('stopped');
    },
  );
  await app.listen({ port: config.port, host: config.host });
  logger.info({ database: config.database.kind, path: config.database.path }, 'Plugboard is ready');
}
