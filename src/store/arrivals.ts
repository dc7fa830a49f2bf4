/**
 * Requests the process began, counted by the HTTP server (app.ts): SQLite's write groups stay open
 * while turns of the event loop keep bringing requests (group-commit.ts). A module of its own, with
 * no imports, so that the app counts without loading the database's code.
 */
let count = 0;

/** Counts a request's arrival. */
export function noteArrival(): void {
  count++;
}

/** Requests begun so far: a turn that moved it brought some (the server is busy). */
export function arrivals(): number {
  return count;
}
