#!/usr/bin/env node
/**
 * The ceiling of `npm run bench`: a bare node:http server that answers every request with one
 * constant connector (the JSON of a GET /api/connectors/{id} answer, with the headers Plugboard
 * sends: content type, ETag, X-Request-Id), keep-alive as Plugboard's. No routing, no database,
 * no auth: what one Node.js process on this core can serve at most.
 *
 * `PORT=… BASELINE_BODY=<json> node scripts/bench/baseline.mjs`
 */
import http from 'node:http';

const body = Buffer.from(process.env.BASELINE_BODY ?? '{}');
const headers = {
  'content-type': 'application/json; charset=utf-8',
  'content-length': String(body.length),
  etag: '"bench-constant-etag-000"',
  'x-request-id': '00000000-0000-4000-8000-000000000000',
};
const server = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, headers);
    response.end(body);
  });
});
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
