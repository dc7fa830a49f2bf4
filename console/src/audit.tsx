import { useEffect, useState } from 'preact/hooks';
import { type AuditEvent, api, PAGE_SIZE } from './api';
import { Banner, link, Pager, Time, Title } from './ui';

const verbs = { create: 'created', update: 'updated', delete: 'deleted' } as const;

/** The account's audit trail, newest first (write keys only: the API refuses read keys). */
export function AuditTrail({ start }: { start: number }) {
  const [events, setEvents] = useState<AuditEvent[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let current = true;
    setEvents(undefined);
    setError(null);
    api.audit(start).then(
      (page) => current && setEvents(page),
      (failure: unknown) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [start]);

  return (
    <section>
      <Title>Audit trail</Title>
      <p class="muted">
        Every change to a connector in this account, newest first. Values are never recorded.
      </p>
      <Banner error={error} />
      {events === undefined && !error && <p aria-live="polite">Loading…</p>}
      {events && (
        <>
          <table class="list">
            <caption class="visually-hidden">Audit events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Change</th>
                <th scope="col">Connector</th>
                <th scope="col">Fields</th>
                <th scope="col">By key</th>
              </tr>
            </thead>
            <tbody>
              {events.map((event) => (
                <tr key={event.id}>
                  <td data-label="When">
                    <Time at={event.at} />
                  </td>
                  <td data-label="Change">
                    <span class={`badge ${event.action}`}>{verbs[event.action]}</span>
                  </td>
                  <td data-label="Connector">
                    <span>
                      {event.action === 'delete' ? (
                        event.connectorName
                      ) : (
                        <a href={link('connectors', event.connectorId)}>{event.connectorName}</a>
                      )}{' '}
                      <span class="muted">({event.connectorType})</span>
                    </span>
                  </td>
                  <td data-label="Fields">{event.fields.join(', ') || '—'}</td>
                  <td data-label="By key">{event.keyLabel}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager
            start={start}
            size={PAGE_SIZE}
            count={events.length}
            hash={(at) => `${link('audit')}?start=${at}`}
          />
        </>
      )}
    </section>
  );
}
