import {
  OutboundError,
  type OutboundFailure,
  type OutboundRequest,
  type OutboundResponse,
  RefusedAddressError,
} from '../../outbound/types.js';
import { WITHHELD } from './redact.js';
import { reasonPhrase, targetSaid } from './said.js';
import type { CheckOutcome, CheckRun } from './types.js';

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** `base` (with or without a trailing slash, maybe with a path) joined with an absolute `path`. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

/**
 * A target's answer as checks see it: body, headers and reason phrase already redacted of every
 * credential the check sent, and `said`, the target's own short message, ready to quote.
 */
export interface TargetResponse extends OutboundResponse {
  readonly said: string | undefined;
}

/**
 * The answer as checks see it, each part redacted when first read and kept: a delivery judged by
 * its status alone (a 2xx) reads none of them, where redacting every header, the reason phrase and
 * the body and looking for the target's message in it were a tenth of such a delivery's glue. What
 * is read is redacted as before, with every credential the run knows by then (never fewer).
 */
class HeardResponse implements TargetResponse {
  readonly status: number;
  readonly url: string;
  readonly #response: OutboundResponse;
  readonly #run: CheckRun;
  #headers: Record<string, string> | undefined;
  #statusMessage: string | undefined;
  #body: string | undefined;
  #said: { value: string | undefined } | undefined;

  constructor(response: OutboundResponse, run: CheckRun) {
    this.status = response.status;
    this.url = response.url;
    this.#response = response;
    this.#run = run;
  }

  get headers(): Record<string, string> {
    if (this.#headers === undefined) {
      const { redactor } = this.#run;
      const headers: Record<string, string> = {};
      // A header can be quoted (a Location's host, Jira's login reason): none may hold a credential in disguise.
      for (const [name, text] of Object.entries(this.#response.headers))
        headers[name] = redactor.disguises(text) ? WITHHELD : redactor.redact(text);
      this.#headers = headers;
    }
    return this.#headers;
  }

  get statusMessage(): string {
    this.#statusMessage ??= reasonPhrase(this.#response, this.#run.redactor);
    return this.#statusMessage;
  }

  get body(): string {
    this.#body ??= this.#run.redactor.redact(this.#response.body);
    return this.#body;
  }

  get said(): string | undefined {
    this.#said ??= { value: targetSaid(this.#response.body, this.#run.redactor, this.#run.answers) };
    return this.#said.value;
  }
}

function heard(response: OutboundResponse, run: CheckRun): TargetResponse {
  return new HeardResponse(response, run);
}

function size(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).host : 'the target';
}

/** What each kind of outbound failure means for a check. */
const FAILURES: Readonly<
  Record<OutboundFailure, (error: OutboundError, run: CheckRun, request: OutboundRequest) => CheckOutcome>
> = {
  // A policy refusal is not the target's verdict on the credentials: it says so, and how to allow it.
  blocked: (error) =>
    error instanceof RefusedAddressError
      ? {
          status: 'blocked',
          message: `${error.message}; nothing was sent. To let checks call it, add it to PLUGBOARD_ALLOWED_TARGETS (a host name, address or CIDR, optionally with :port)`,
        }
      : { status: 'failed', message: error.message },
  invalid_header: () => ({
    status: 'failed',
    message:
      'the credential holds characters that cannot be sent in an HTTP header (a line break, a control ' +
      'character or a character such as €); check that it was copied whole and nothing else with it',
  }),
  too_large: (_error, run, request) => ({
    status: 'failed',
    message: `${hostOf(request.url)} answered with more than ${size(run.http.maxBytes)}, which is not how its API answers this check; check the URL`,
  }),
  timeout: (_error, run, request) => ({
    status: 'unreachable',
    message: `no complete answer from ${hostOf(request.url)} within the ${run.http.timeoutMs} ms a check may take`,
  }),
  dns: (error) => ({ status: 'unreachable', message: error.message }),
  connect: (error) => ({ status: 'unreachable', message: error.message }),
  protocol: (error) => ({ status: 'unreachable', message: error.message }),
};

/**
 * Calls the target under the check's deadline, after recording every credential header it sends.
 * A network failure becomes the check's result instead of an exception.
 */
export async function call(
  run: CheckRun,
  request: OutboundRequest,
): Promise<{ response: TargetResponse } | { outcome: CheckOutcome }> {
  for (const [name, text] of Object.entries(request.headers ?? {})) run.redactor.addHeader(name, text);
  try {
    return { response: heard(await run.http.request({ ...request, deadline: run.deadline }), run) };
  } catch (error) {
    if (!(error instanceof OutboundError)) throw error;
    return { outcome: FAILURES[error.kind](error, run, request) };
  }
}

/** `HTTP 401 Unauthorized: <what the target said>` */
export function describeResponse(response: TargetResponse): string {
  const reason = response.statusMessage === '' ? '' : ` ${response.statusMessage}`;
  return `HTTP ${response.status}${reason}${response.said ? `: ${response.said}` : ''}`;
}

function redirectHost(response: TargetResponse): string {
  const location = response.headers.location;
  if (!location || !URL.canParse(location, response.url)) return '';
  return ` to ${new URL(location, response.url).host}`;
}

/**
 * The usual reading of an authenticated GET: 2xx is ok, 401/403 means the credentials were
 * refused, 404 that the URL is not the service's, anything else a failure with what it said.
 */
export function judge(response: TargetResponse, service: string): CheckOutcome {
  const httpStatus = response.status;
  if (httpStatus >= 200 && httpStatus < 300)
    return { status: 'ok', message: `${service} accepted the credentials`, httpStatus };
  if (httpStatus === 401 || httpStatus === 403) {
    return {
      status: 'failed',
      message: `${service} refused the credentials (${describeResponse(response)})`,
      httpStatus,
    };
  }
  if (httpStatus === 404) {
    return {
      status: 'failed',
      message: `${service} API not found at this URL (${describeResponse(response)}); check the base URL`,
      httpStatus,
    };
  }
  if (httpStatus >= 300 && httpStatus < 400) {
    return {
      status: 'failed',
      message: `the URL redirects elsewhere (HTTP ${httpStatus}${redirectHost(response)}); use the final base URL`,
      httpStatus,
    };
  }
  return { status: 'failed', message: `${service} answered ${describeResponse(response)}`, httpStatus };
}

/** One authenticated GET, judged the usual way. */
export async function getAndJudge(
  run: CheckRun,
  service: string,
  url: string,
  headers: Record<string, string>,
): Promise<CheckOutcome> {
  const result = await call(run, { method: 'GET', url, headers: { accept: 'application/json', ...headers } });
  return 'outcome' in result ? result.outcome : judge(result.response, service);
}
