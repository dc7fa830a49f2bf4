import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** How long and how much of a refused body is read and thrown away before the connection closes. */
export interface LingerSettings {
  /** The longest the rest of the body is read, in all (nginx's lingering_time). */
  readonly totalMs: number;
  /** The longest a silence may last meanwhile (nginx's lingering_timeout). */
  readonly idleMs: number;
  /** The most bytes read and thrown away; a client sending more is cut off. */
  readonly maxBytes: number;
}

export const DEFAULT_LINGER: LingerSettings = {
  totalMs: 30_000,
  idleMs: 5_000,
  maxBytes: 32 * 1024 * 1024,
};

/**
 * Reads and discards what a client still sends after its answer, then closes: the answer was
 * written and the connection's sending half is closed (FIN), so the client reads the answer and
 * then the end; the rest of its body is read and thrown away until it stops sending, its request
 * ends, or the bounds are reached. Closing at once with unread data made the kernel reset the
 * connection (RST), and a client still writing its body got EPIPE instead of the answer.
 */
function linger(socket: Socket, request: IncomingMessage, settings: LingerSettings): void {
  // Node's HTTP parser owns the socket's reads (it may consume them natively) and, the response
  // being done, discards the rest of the body itself (`_dump`): the socket's byte count shows how
  // much arrives, and the request's end that all of it did.
  const first = socket.bytesRead;
  let last = first;
  let lastMoved = Date.now();
  const started = lastMoved;
  const stop = () => {
    clearInterval(watch);
    socket.destroy();
  };
  const watch = setInterval(
    () => {
      const now = Date.now();
      const read = socket.bytesRead;
      if (read !== last) {
        last = read;
        lastMoved = now;
      }
      if (
        read - first > settings.maxBytes ||
        now - lastMoved >= settings.idleMs ||
        now - started >= settings.totalMs
      ) {
        stop();
      }
    },
    Math.max(10, Math.min(250, settings.idleMs / 5)),
  );
  // The body has all arrived: nothing unread is left. (A client that closes its half ends the
  // connection through Node's parser.)
  request.once('end', stop);
  socket.once('close', () => clearInterval(watch));
  socket.end();
  request.resume();
}

/**
 * Lingering close (as nginx does): when the server answers a request before its body has all
 * arrived and closes the connection (a 413 for an oversized body, any error while the body was
 * read), the rest of the body is read and discarded for a bounded time and size before the socket
 * is destroyed.
 *
 * Node closes such a connection in its response's `finish` handler with `socket.destroySoon()`
 * (end, then destroy as soon as the answer is flushed); on a socket whose request is incomplete,
 * that one call lingers instead. A response that keeps the connection open never calls it (Node
 * then reads the rest of the body itself), and the socket gets its own method back when the
 * response is done.
 */
export function installLingeringClose(app: FastifyInstance, settings: LingerSettings = DEFAULT_LINGER): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    const { raw } = request;
    const socket = raw.socket;
    if (raw.complete || socket === null || socket.destroyed || Object.hasOwn(socket, 'destroySoon')) {
      done(null, payload);
      return;
    }
    socket.destroySoon = function lingeringDestroySoon() {
      Reflect.deleteProperty(socket, 'destroySoon');
      if (raw.complete || socket.destroyed) socket.destroySoon();
      else linger(socket, raw, settings);
    };
    // Node's own `finish` handler, registered before this one, has called it by now if it meant to.
    reply.raw.once('finish', () => Reflect.deleteProperty(socket, 'destroySoon'));
    done(null, payload);
  });
}
