import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  api,
  type CheckResult,
  type Connector,
  type ConnectorType,
  type Me,
  PAGE_SIZE,
} from './api';
import { Deliveries } from './deliveries';
import { ConnectorForm } from './form';
import { Banner, CheckBadge, CheckOutcome, go, link, Pager, Time, Title } from './ui';

/** Something loaded from the API: the value, or the error to show instead. */
type Loaded<T> = { value: T } | { error: unknown } | undefined;

function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [Loaded<T>, () => void] {
  const [state, setState] = useState<Loaded<T>>(undefined);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setState(undefined);
    load().then(
      (value) => current && setState({ value }),
      (error: unknown) => current && setState({ error }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  return [state, () => setRound((n) => n + 1)];
}

function typeName(types: ConnectorType[], id: string): string {
  return types.find((type) => type.id === id)?.displayName ?? id;
}

export function ConnectorList({ me, types, start }: { me: Me; types: ConnectorType[]; start: number }) {
  const [page] = useLoad(() => api.connectors(start), [start]);
  const [name, setName] = useState('');
  const [findError, setFindError] = useState<unknown>(null);

  async function find(event: Event) {
    event.preventDefault();
    setFindError(null);
    const wanted = name.trim();
    if (wanted === '') return setFindError('Type the name of a connector to find it.');
    try {
      go(link('connectors', (await api.byName(wanted)).id));
    } catch (error) {
      setFindError(
        error instanceof ApiError && error.status === 404
          ? `No connector is named “${wanted}” in this account (names are matched exactly).`
          : error,
      );
    }
  }

  return (
    <section>
      <div class="title-row">
        <Title>Connectors</Title>
        {me.role === 'write' && (
          <a class="button primary" href={link('connectors', 'new')}>
            New connector
          </a>
        )}
      </div>
      <search>
        <form class="find" onSubmit={find} noValidate>
          <label for="find-name">Find by name</label>
          <input
            id="find-name"
            type="search"
            value={name}
            autocomplete="off"
            onInput={(event) => setName((event.currentTarget as HTMLInputElement).value)}
          />
          <button type="submit">Find</button>
        </form>
      </search>
      <Banner error={findError} />
      {page === undefined && <p aria-live="polite">Loading connectors…</p>}
      {page && 'error' in page && <Banner error={page.error} />}
      {page && 'value' in page && (
        <>
          {page.value.length === 0 && start === 0 ? (
            <p class="empty">
              No connectors yet.{' '}
              {me.role === 'write' ? <a href={link('connectors', 'new')}>Create the first one.</a> : ''}
            </p>
          ) : (
            <table class="list">
              <caption class="visually-hidden">Connectors, in creation order</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Last check</th>
                  <th scope="col">Updated</th>
                </tr>
              </thead>
              <tbody>
                {page.value.map((connector) => (
                  <tr key={connector.id}>
                    <td data-label="Name">
                      <a href={link('connectors', connector.id)}>{connector.name}</a>
                    </td>
                    <td data-label="Type">{typeName(types, connector.type)}</td>
                    <td data-label="Last check">
                      <span>
                        <CheckBadge result={connector.lastCheck} />{' '}
                        {connector.lastCheck && (
                          <span class="muted">
                            <Time at={connector.lastCheck.checkedAt} />
                          </span>
                        )}
                      </span>
                    </td>
                    <td data-label="Updated">
                      <Time at={connector.updatedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <Pager
            start={start}
            size={PAGE_SIZE}
            count={page.value.length}
            hash={(at) => `${link('connectors')}?start=${at}`}
          />
        </>
      )}
    </section>
  );
}

export function NewConnector({ types, typeId }: { types: ConnectorType[]; typeId: string | null }) {
  const type = types.find((candidate) => candidate.id === typeId);
  return (
    <section>
      <Title>New connector</Title>
      <div class="field">
        <label for="field-type">Type</label>
        <select
          id="field-type"
          value={type?.id ?? ''}
          onChange={(event) =>
            go(
              `${link('connectors', 'new')}?type=${encodeURIComponent((event.currentTarget as HTMLSelectElement).value)}`,
            )
          }
        >
          <option value="" disabled>
            Choose a type…
          </option>
          {types.map((candidate) => (
            <option key={candidate.id} value={candidate.id}>
              {candidate.displayName}
            </option>
          ))}
        </select>
      </div>
      {type && <ConnectorForm key={type.id} type={type} />}
    </section>
  );
}

export function EditConnector({ types, id }: { types: ConnectorType[]; id: string }) {
  const [loaded] = useLoad(() => api.connector(id), [id]);
  if (loaded === undefined) return <p aria-live="polite">Loading…</p>;
  if ('error' in loaded) return <Banner error={loaded.error} />;
  const connector = loaded.value.body;
  const type = types.find((candidate) => candidate.id === connector.type);
  if (!type)
    return <Banner error={`This console does not know the type ${connector.type}: reload the page.`} />;
  return (
    <section>
      <Title>Edit {connector.name}</Title>
      <p>
        Type: <strong>{type.displayName}</strong>{' '}
        <span class="muted">(the type of a connector cannot change)</span>
      </p>
      <ConnectorForm type={type} editing={{ connector, etag: loaded.value.etag }} />
    </section>
  );
}

export function ConnectorPage({ me, types, id }: { me: Me; types: ConnectorType[]; id: string }) {
  const [loaded, reload] = useLoad(() => api.connector(id), [id]);
  const [check, setCheck] = useState<CheckResult | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const dialog = useRef<HTMLDialogElement>(null);

  if (loaded === undefined) return <p aria-live="polite">Loading…</p>;
  if ('error' in loaded) {
    return (
      <section>
        <Title>Connector not available</Title>
        <Banner error={loaded.error} />
        <p>
          <a href={link('connectors')}>Back to the connectors</a>
        </p>
      </section>
    );
  }
  const connector: Connector = loaded.value.body;
  const type = types.find((candidate) => candidate.id === connector.type);
  const secret = (name: string) => type?.params.find((param) => param.name === name)?.secret ?? false;
  const writable = me.role === 'write';

  async function runCheck() {
    setBusy(true);
    setError(null);
    setCheck(undefined);
    try {
      setCheck(await api.check(connector.id));
      reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    try {
      await api.remove(connector.id);
      dialog.current?.close();
      go(link('connectors'));
    } catch (failure) {
      dialog.current?.close();
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <p class="crumbs">
        <a href={link('connectors')}>Connectors</a> /
      </p>
      <div class="title-row">
        <Title>{connector.name}</Title>
        {writable && (
          <div class="actions">
            {type?.checkable && (
              <button type="button" onClick={runCheck} disabled={busy}>
                {busy ? 'Checking…' : 'Check'}
              </button>
            )}
            <a class="button" href={link('connectors', connector.id, 'edit')}>
              Edit
            </a>
            <button type="button" class="danger" onClick={() => dialog.current?.showModal()} disabled={busy}>
              Delete
            </button>
          </div>
        )}
      </div>
      <Banner error={error} />
      <CheckOutcome result={check} />
      <dl class="details">
        <dt>Type</dt>
        <dd>{type?.displayName ?? connector.type}</dd>
        <dt>Last check</dt>
        <dd>
          <CheckBadge result={connector.lastCheck} />{' '}
          {connector.lastCheck && (
            <>
              <Time at={connector.lastCheck.checkedAt} />: {connector.lastCheck.message}
            </>
          )}
        </dd>
        <dt>Created</dt>
        <dd>
          <Time at={connector.createdAt} />
        </dd>
        <dt>Updated</dt>
        <dd>
          <Time at={connector.updatedAt} />
        </dd>
        <dt>ID</dt>
        <dd>
          <code>{connector.id}</code>
        </dd>
      </dl>
      <h2>Params</h2>
      <dl class="details params">
        {Object.entries(connector.params).map(([name, value]) => (
          <Fragment key={name}>
            <dt>{name}</dt>
            <dd>
              {secret(name) ? (
                <span class="secret">
                  ••••••••<span class="visually-hidden"> (secret, not shown)</span>
                </span>
              ) : (
                <code>{value}</code>
              )}
            </dd>
          </Fragment>
        ))}
      </dl>
      {Object.keys(connector.params).length === 0 && <p class="muted">No params.</p>}
      <Deliveries me={me} connector={connector} />
      <dialog ref={dialog} aria-labelledby="delete-title">
        <h2 id="delete-title">Delete “{connector.name}”?</h2>
        <p>
          The connector <strong>{connector.name}</strong> ({type?.displayName ?? connector.type}) and its
          stored credentials are deleted. This cannot be undone.
        </p>
        <div class="actions">
          <button type="button" onClick={() => dialog.current?.close()} autofocus>
            Keep it
          </button>
          <button type="button" class="danger" onClick={remove} disabled={busy}>
            Delete {connector.name}
          </button>
        </div>
      </dialog>
    </section>
  );
}
