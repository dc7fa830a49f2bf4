/**
 * undici's Client module (exchange.ts loads it alone, not the package's index): its export is the
 * package's `Client`. undici is pinned exactly (package.json), so the path does not move under it.
 */
declare module 'undici/lib/dispatcher/client.js' {
  const Client: typeof import('undici').Client;
  export default Client;
}
