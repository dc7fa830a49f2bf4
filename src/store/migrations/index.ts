import type { Migration } from 'kysely';
import * as initial from './0001-initial.js';

/** Every migration, by name; names sort in the order they apply. Never edit one that has shipped. */
export const migrations: Record<string, Migration> = {
  '0001-initial': initial,
};
