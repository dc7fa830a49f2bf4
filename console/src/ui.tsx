import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { ApiError, type CheckResult } from './api';

/** The location inside the console: `#/connectors/abc?start=20` → path and query. */
export interface Route {
  path: string[];
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = hash.split('?', 2);
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

export function go(hash: string): void {
  location.hash = hash;
}

export function link(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

/** The page's heading, focused when the page opens so that a screen reader and the keyboard start there. */
export function Title({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

/** An error that names no field (or a field the page has no input for), in one place. */
export function Banner({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof ApiError ? error.message : String(error);
  const detail =
    error instanceof ApiError && error.status > 0 ? ` (${error.code}, HTTP ${error.status})` : '';
  return (
    <div class="banner" role="alert" tabIndex={-1}>
      {message}
      {detail && <span class="muted">{detail}</span>}
    </div>
  );
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function Time({ at }: { at: string }) {
  return <time dateTime={at}>{timeFormat.format(new Date(at))}</time>;
}

export function CheckBadge({ result }: { result: CheckResult | undefined }) {
  if (!result) return <span class="badge none">not checked</span>;
  return <span class={`badge ${result.ok ? 'ok' : 'failed'}`}>{result.ok ? 'ok' : result.status}</span>;
}

/** The outcome of a check: status and message, announced to screen readers. */
export function CheckOutcome({ result }: { result: CheckResult | undefined }) {
  if (!result) return null;
  return (
    <div class={`check ${result.ok ? 'ok' : 'failed'}`} role="status">
      <strong>{result.ok ? 'Check passed' : `Check ${result.status}`}</strong>: {result.message}
      {result.latencyMs !== undefined && <span class="muted"> ({result.latencyMs} ms)</span>}
    </div>
  );
}

/** Previous/next for a list the API pages with start-index and max-results (it gives no total). */
export function Pager(props: {
  start: number;
  size: number;
  count: number;
  /** Pages as addresses (a page of its own), or… */
  hash?: (start: number) => string;
  /** …pages inside a page. */
  onPage?: (start: number) => void;
}) {
  const { start, size, count, hash, onPage } = props;
  const previous = Math.max(0, start - size);
  const to = (at: number, label: string) =>
    hash ? (
      <a href={hash(at)}>{label}</a>
    ) : (
      <button type="button" onClick={() => onPage?.(at)}>
        {label}
      </button>
    );
  return (
    <nav class="pager" aria-label="Pages">
      {start > 0 ? to(previous, '← Previous') : <span aria-hidden="true" />}
      <span class="muted">
        {count === 0 ? 'No entries' : `${start + 1}–${start + count}`}
        {start > 0 || count === size ? '' : ' (all)'}
      </span>
      {count === size ? to(start + size, 'Next →') : <span aria-hidden="true" />}
    </nav>
  );
}

export function startOf(query: URLSearchParams): number {
  const start = Number(query.get('start') ?? '0');
  return Number.isInteger(start) && start >= 0 ? start : 0;
}
