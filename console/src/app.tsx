import { useEffect, useState } from 'preact/hooks';
import {
  ApiError,
  api,
  type ConnectorType,
  forgetKey,
  type Me,
  storedKey,
  storeKey,
  whenUnauthorized,
} from './api';
import { AuditTrail } from './audit';
import { ConnectorList, ConnectorPage, EditConnector, NewConnector } from './connectors';
import { Banner, currentRoute, link, type Route, startOf, Title } from './ui';

function SignIn({ onSignedIn, notice }: { onSignedIn: (me: Me) => void; notice: unknown }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(notice);
  const [busy, setBusy] = useState(false);

  async function signIn(event: Event) {
    event.preventDefault();
    const trimmed = key.trim();
    if (trimmed === '') return setError('Paste an API key to sign in (plugboard keys create makes one).');
    setBusy(true);
    setError(null);
    try {
      const me = await api.me(trimmed);
      storeKey(trimmed);
      onSignedIn(me);
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 401
          ? new ApiError(401, failure.code, `This key cannot sign in: ${failure.message}.`)
          : failure,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin">
      <Title>Sign in to Plugboard</Title>
      <form onSubmit={signIn} noValidate>
        <Banner error={error} />
        <div class="field">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={key}
            aria-describedby="api-key-help"
            onInput={(event) => setKey((event.currentTarget as HTMLInputElement).value)}
          />
          <p class="help" id="api-key-help">
            Kept in this browser tab only (session storage) and sent as <code>Authorization: Bearer</code>.
            Closing the tab or signing out forgets it.
          </p>
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
          <a href="/docs">API reference</a>
        </div>
      </form>
    </main>
  );
}

function Page({ me, types, route }: { me: Me; types: ConnectorType[]; route: Route }) {
  const [first = 'connectors', second, third] = route.path;
  const writeOnly = (what: string) => (
    <section>
      <Title>{what}</Title>
      <Banner error="This needs an API key with the write role; yours is read-only." />
    </section>
  );
  if (first === 'connectors' && second === undefined) {
    return <ConnectorList me={me} types={types} start={startOf(route.query)} />;
  }
  if (first === 'connectors' && second === 'new') {
    return me.role === 'write' ? (
      <NewConnector types={types} typeId={route.query.get('type')} />
    ) : (
      writeOnly('New connector')
    );
  }
  if (first === 'connectors' && second !== undefined && third === undefined) {
    return <ConnectorPage key={second} me={me} types={types} id={second} />;
  }
  if (first === 'connectors' && second !== undefined && third === 'edit') {
    return me.role === 'write' ? <EditConnector types={types} id={second} /> : writeOnly('Edit connector');
  }
  if (first === 'audit') {
    return me.role === 'write' ? <AuditTrail start={startOf(route.query)} /> : writeOnly('Audit trail');
  }
  return (
    <section>
      <Title>Page not found</Title>
      <p>
        Nothing is at this address. <a href={link('connectors')}>Go to the connectors.</a>
      </p>
    </section>
  );
}

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(storedKey() ? undefined : null);
  const [notice, setNotice] = useState<unknown>(null);
  const [types, setTypes] = useState<ConnectorType[] | undefined>(undefined);
  const [typesError, setTypesError] = useState<unknown>(null);
  const [route, setRoute] = useState(currentRoute);

  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener('hashchange', changed);
    whenUnauthorized((message) => {
      forgetKey();
      setMe(null);
      setNotice(`Signed out: ${message}.`);
    });
    if (storedKey()) {
      api.me().then(setMe, (error: unknown) => {
        if (!(error instanceof ApiError && error.status === 401)) setNotice(error);
        setMe(null);
      });
    }
    return () => removeEventListener('hashchange', changed);
  }, []);

  useEffect(() => {
    if (!me) return;
    api.types().then(setTypes, setTypesError);
  }, [me]);

  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(signedIn) => {
          setNotice(null);
          setMe(signedIn);
        }}
      />
    );
  }

  function signOut() {
    forgetKey();
    setTypes(undefined);
    setMe(null);
  }

  const here = route.path[0] ?? 'connectors';
  return (
    <>
      <header class="top">
        <a class="brand" href={link('connectors')}>
          Plugboard
        </a>
        <nav aria-label="Main">
          <a href={link('connectors')} aria-current={here === 'connectors' ? 'page' : undefined}>
            Connectors
          </a>
          {me.role === 'write' && (
            <a href={link('audit')} aria-current={here === 'audit' ? 'page' : undefined}>
              Audit trail
            </a>
          )}
          <a href="/docs">API reference</a>
        </nav>
        <div class="who">
          <span>
            <span class="visually-hidden">Account </span>
            <strong>{me.account}</strong>
          </span>{' '}
          <span class={`badge role-${me.role}`}>{me.role === 'write' ? 'write key' : 'read-only key'}</span>{' '}
          <span class="muted key-label">{me.key.label}</span>{' '}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        {typesError ? <Banner error={typesError} /> : null}
        {types === undefined ? (
          !typesError && <p aria-live="polite">Loading…</p>
        ) : (
          <Page me={me} types={types} route={route} />
        )}
      </main>
    </>
  );
}
