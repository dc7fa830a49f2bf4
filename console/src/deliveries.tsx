import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Connector, type Delivery, type Me, PAGE_SIZE, SECRET_PLACEHOLDER } from './api';
import { Banner, Pager, Time } from './ui';

/** Which action a delivery offers in its state (the API refuses the others with 409). */
const retryable = new Set(['failed', 'cancelled']);
const cancellable = new Set(['queued', 'retrying']);
/** States after which nothing changes unless someone acts: the list stops refreshing itself. */
const settled = new Set(['delivered', 'failed', 'cancelled']);

function lastMessage(delivery: Delivery): string {
  const last = delivery.attempts[delivery.attempts.length - 1];
  if (!last) return delivery.state === 'queued' ? 'waiting for its first attempt' : '';
  return `${last.httpStatus ? `HTTP ${last.httpStatus}: ` : ''}${last.message}`;
}

/** "Send a test event": an ALERT with a summary, and the type's delivery options as JSON when it needs some. */
function TestEvent({ connector, onSent }: { connector: Connector; onSent: () => void }) {
  const [summary, setSummary] = useState('Test event from the Plugboard console');
  const [options, setOptions] = useState('');
  const [errors, setErrors] = useState<{ summary?: string; options?: string }>({});
  const [banner, setBanner] = useState<unknown>(null);
  const [sent, setSent] = useState('');
  const [busy, setBusy] = useState(false);

  async function send(event: Event) {
    event.preventDefault();
    setErrors({});
    setBanner(null);
    setSent('');
    let params: Record<string, unknown> | undefined;
    if (options.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(options);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
          throw new Error('not an object');
        params = parsed as Record<string, unknown>;
      } catch {
        setErrors({ options: 'must be a JSON object, e.g. {"project": "OPS"}, or empty' });
        return;
      }
    }
    setBusy(true);
    try {
      const delivery = await api.deliver(connector.id, {
        event: { eventType: 'ALERT', summary, alertKey: `plugboard-console-test-${Date.now()}` },
        ...(params ? { params } : {}),
      });
      setSent(`Queued as ${delivery.id}.`);
      onSent();
    } catch (error) {
      const placed: { summary?: string; options?: string } = {};
      const rest: string[] = [];
      if (error instanceof ApiError) {
        for (const problem of error.fields) {
          if (problem.field === '/event/summary') placed.summary = problem.message;
          else if (problem.field.startsWith('/params')) {
            placed.options = `${placed.options ? `${placed.options}; ` : ''}${problem.field.slice('/params/'.length) || 'options'} ${problem.message}`;
          } else rest.push(`${problem.field} ${problem.message}`);
        }
      }
      setErrors(placed);
      setBanner(
        error instanceof ApiError && rest.length > 0
          ? new ApiError(error.status, error.code, [error.message, ...rest].join('; '))
          : error,
      );
    } finally {
      setBusy(false);
    }
  }

  const described = (id: string, error?: string) =>
    [`${id}-help`, error ? `${id}-error` : ''].join(' ').trim();
  return (
    <form class="test-event" onSubmit={send} noValidate>
      <h3>Send a test event</h3>
      <Banner error={banner} />
      <div class={`field${errors.summary ? ' invalid' : ''}`}>
        <label for="test-summary">Summary</label>
        <input
          id="test-summary"
          type="text"
          value={summary}
          aria-invalid={errors.summary ? 'true' : undefined}
          aria-describedby={described('test-summary', errors.summary)}
          onInput={(event) => setSummary((event.currentTarget as HTMLInputElement).value)}
        />
        <p class="help" id="test-summary-help">
          Sent as an ALERT with an alert key of its own, so it opens a new ticket or message.
        </p>
        {errors.summary && (
          <p class="error" id="test-summary-error">
            {errors.summary}
          </p>
        )}
      </div>
      <div class={`field${errors.options ? ' invalid' : ''}`}>
        <label for="test-options">Delivery options (JSON, optional)</label>
        <textarea
          id="test-options"
          rows={2}
          spellcheck={false}
          value={options}
          aria-invalid={errors.options ? 'true' : undefined}
          aria-describedby={described('test-options', errors.options)}
          onInput={(event) => setOptions((event.currentTarget as HTMLTextAreaElement).value)}
        />
        <p class="help" id="test-options-help">
          What this type needs to deliver, e.g. <code>{'{"project": "OPS"}'}</code> for Jira; the API names
          any that is missing.
        </p>
        {errors.options && (
          <p class="error" id="test-options-error">
            {errors.options}
          </p>
        )}
      </div>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Sending…' : 'Send test event'}
        </button>
        {sent && <span role="status">{sent}</span>}
      </div>
    </form>
  );
}

/** A connector's deliveries, newest first: state and attempts; retry and cancel for write keys. */
export function Deliveries({ me, connector }: { me: Me; connector: Connector }) {
  const [start, setStart] = useState(0);
  const [round, setRound] = useState(0);
  const [deliveries, setDeliveries] = useState<Delivery[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState('');
  const refresh = () => setRound((n) => n + 1);

  useEffect(() => {
    let current = true;
    api.deliveries(connector.id, start).then(
      (page) => {
        if (!current) return;
        setDeliveries(page);
        setError(null);
      },
      (failure: unknown) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [connector.id, start, round]);

  // While a delivery is on its way, look again every two seconds.
  useEffect(() => {
    if (!deliveries?.some((delivery) => !settled.has(delivery.state))) return;
    const timer = setTimeout(refresh, 2_000);
    return () => clearTimeout(timer);
  }, [deliveries]);

  async function act(delivery: Delivery, action: 'retry' | 'cancel') {
    setBusy(delivery.id);
    setError(null);
    try {
      await (action === 'retry' ? api.retry(delivery.id) : api.cancel(delivery.id));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy('');
      refresh();
    }
  }

  return (
    <section class="deliveries" aria-labelledby="deliveries-title">
      <div class="title-row">
        <h2 id="deliveries-title">Deliveries</h2>
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </div>
      <Banner error={error} />
      {deliveries === undefined && !error && <p aria-live="polite">Loading deliveries…</p>}
      {deliveries && deliveries.length === 0 && start === 0 && <p class="muted">No deliveries yet.</p>}
      {deliveries && deliveries.length > 0 && (
        <table class="list">
          <caption class="visually-hidden">Deliveries through {connector.name}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Queued</th>
              <th scope="col">Event</th>
              <th scope="col">State</th>
              <th scope="col">Attempts</th>
              {me.role === 'write' && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {deliveries.map((delivery) => (
              <tr key={delivery.id}>
                <td data-label="Queued">
                  <Time at={delivery.createdAt} />
                </td>
                <td data-label="Event">
                  <span>
                    {delivery.event.eventType}
                    {delivery.event.summary ? `: ${delivery.event.summary}` : ''}
                  </span>
                </td>
                <td data-label="State">
                  <span>
                    <span class={`badge ${delivery.state}`}>{delivery.state}</span>
                    {delivery.externalRef?.id && delivery.externalRef.id !== SECRET_PLACEHOLDER && (
                      <span class="muted"> {delivery.externalRef.id}</span>
                    )}
                  </span>
                </td>
                <td data-label="Attempts">
                  <span>
                    {delivery.attempts.length} <span class="muted">{lastMessage(delivery)}</span>
                  </span>
                </td>
                {me.role === 'write' && (
                  <td data-label="Actions">
                    <span>
                      {retryable.has(delivery.state) && (
                        <button type="button" onClick={() => act(delivery, 'retry')} disabled={busy !== ''}>
                          Retry
                        </button>
                      )}
                      {cancellable.has(delivery.state) && (
                        <button type="button" onClick={() => act(delivery, 'cancel')} disabled={busy !== ''}>
                          Cancel
                        </button>
                      )}
                    </span>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deliveries && (deliveries.length > 0 || start > 0) && (
        <Pager start={start} size={PAGE_SIZE} count={deliveries.length} onPage={setStart} />
      )}
      {me.role === 'write' && (
        <TestEvent
          connector={connector}
          onSent={() => {
            setStart(0);
            refresh();
          }}
        />
      )}
    </section>
  );
}
