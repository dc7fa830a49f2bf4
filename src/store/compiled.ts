import type { CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { Database } from './schema.js';

/**
 * A hot query built and compiled once, run with new values: Kysely builds, transforms and compiles
 * every query anew on each call (its `executeQuery`, `visitNode`, `freeze`, `cloneWithWhere` were
 * ~10 % of a GET). `build` makes the query with one distinct stand-in per value; each run puts the
 * values where the stand-ins ended up among the compiled parameters, whatever their order.
 */
export function compiledOnce<R, V extends readonly unknown[]>(
  compiled: CompiledQuery<R>,
  standIns: V,
): (on: Kysely<Database>, ...values: { [K in keyof V]: unknown }) => Promise<QueryResult<R>> {
  const slots = compiled.parameters.map((parameter) => {
    const slot = standIns.indexOf(parameter);
    if (slot < 0)
      throw new Error(
        `compiledOnce: the compiled query has a parameter that is no stand-in: ${String(parameter)}`,
      );
    return slot;
  });
  for (let slot = 0; slot < standIns.length; slot++) {
    if (!slots.includes(slot))
      throw new Error(
        `compiledOnce: stand-in ${String(standIns[slot])} is not among the compiled parameters`,
      );
  }
  return (on, ...values) =>
    on.executeQuery<R>({ ...compiled, parameters: slots.map((slot) => values[slot]) });
}
