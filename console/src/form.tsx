import { useRef, useState } from 'preact/hooks';
import {
  ApiError,
  api,
  type CheckResult,
  type Connector,
  type ConnectorInput,
  type ConnectorType,
  type ParamInfo,
  SECRET_PLACEHOLDER,
} from './api';
import { Banner, CheckOutcome, go, link } from './ui';

/** Which input a JSON pointer of the API names: `/name` → name, `/params/url` → the param url. */
function fieldOf(pointer: string, type: ConnectorType): string | undefined {
  if (pointer === '/name') return 'name';
  const match = /^\/params\/(.+)$/.exec(pointer);
  const name = match?.[1]?.replace(/~1/g, '/').replace(/~0/g, '~');
  return name !== undefined && type.params.some((param) => param.name === name)
    ? `params.${name}`
    : undefined;
}

/** The API's errors split into those next to an input (by field) and the rest, for the banner. */
function placeErrors(
  error: unknown,
  type: ConnectorType,
): { byField: Record<string, string>; rest: unknown } {
  if (!(error instanceof ApiError) || error.fields.length === 0) return { byField: {}, rest: error };
  const byField: Record<string, string> = {};
  const unplaced: string[] = [];
  for (const problem of error.fields) {
    const field = fieldOf(problem.field, type);
    if (field) byField[field] = byField[field] ? `${byField[field]}; ${problem.message}` : problem.message;
    else unplaced.push(`${problem.field || 'the body'} ${problem.message}`);
  }
  if (unplaced.length === 0 && Object.keys(byField).length > 0) {
    return { byField, rest: new ApiError(error.status, error.code, 'Please correct the marked fields.') };
  }
  const rest = new ApiError(error.status, error.code, [error.message, ...unplaced].join('; '));
  return { byField, rest };
}

interface FieldProps {
  id: string;
  label: string;
  value: string;
  help?: string;
  error?: string | undefined;
  required?: boolean;
  kind: 'text' | 'url' | 'password';
  placeholder?: string;
  onInput: (value: string) => void;
}

function Field({ id, label, value, help, error, required, kind, placeholder, onInput }: FieldProps) {
  const described = [help ? `${id}-help` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div class={`field${error ? ' invalid' : ''}`}>
      <label for={id}>
        {label}
        {required && (
          <span class="required" title="required">
            {' '}
            * <span class="visually-hidden">(required)</span>
          </span>
        )}
      </label>
      <input
        id={id}
        name={id}
        // Preact's types tell inputs apart by `type`; every attribute here is valid for all three kinds.
        type={kind as 'text'}
        value={value}
        placeholder={placeholder}
        autocomplete={kind === 'password' ? 'new-password' : 'off'}
        spellcheck={false}
        aria-required={required ? 'true' : undefined}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={described || undefined}
        onInput={(event) => onInput((event.currentTarget as HTMLInputElement).value)}
      />
      {help && (
        <p class="help" id={`${id}-help`}>
          {help}
        </p>
      )}
      {error && (
        <p class="error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

function paramLabel(param: ParamInfo): string {
  return param.name;
}

export interface FormProps {
  type: ConnectorType;
  /** Editing this stored connector (its type fixed, its secrets never pre-filled); absent: creating. */
  editing?: { connector: Connector; etag: string | null };
}

/**
 * The create and edit form of one type, made from the type catalog: a field per param with its
 * description as help, secrets as password inputs, URLs as URL inputs, required ones marked.
 */
export function ConnectorForm({ type, editing }: FormProps) {
  const stored = editing?.connector;
  const [name, setName] = useState(stored?.name ?? '');
  const [values, setValues] = useState<Record<string, string>>(() => {
    const initial: Record<string, string> = {};
    for (const param of type.params) {
      initial[param.name] = param.secret ? '' : (stored?.params[param.name] ?? '');
    }
    return initial;
  });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState<unknown>(null);
  const [check, setCheck] = useState<CheckResult | undefined>(undefined);
  const [busy, setBusy] = useState<'' | 'save' | 'check'>('');
  const formRef = useRef<HTMLFormElement>(null);

  /** A secret left empty while editing keeps its stored value: the API's placeholder says so. */
  const keepsStored = (param: ParamInfo) =>
    param.secret &&
    stored !== undefined &&
    values[param.name] === '' &&
    stored.params[param.name] !== undefined;

  function input(forCheck: boolean): ConnectorInput | string {
    const params: Record<string, string> = {};
    for (const param of type.params) {
      const value = values[param.name] ?? '';
      if (keepsStored(param)) {
        const kept = stored?.params[param.name] ?? SECRET_PLACEHOLDER;
        if (forCheck && kept === SECRET_PLACEHOLDER) {
          return `Checking this form needs the secret ${param.name}, which this console cannot read: type it in, or save and check the stored connector.`;
        }
        params[param.name] = forCheck ? kept : SECRET_PLACEHOLDER;
      } else if (value !== '') {
        params[param.name] = value;
      }
    }
    return { type: type.id, name, params };
  }

  function showError(error: unknown) {
    const { byField, rest } = placeErrors(error, type);
    setFieldErrors(byField);
    setBanner(rest);
    const first = Object.keys(byField)[0];
    const target = first ? formRef.current?.querySelector<HTMLInputElement>(`#${fieldId(first)}`) : null;
    if (target) target.focus();
    else formRef.current?.querySelector<HTMLElement>('.banner')?.focus();
  }

  async function save(event: Event) {
    event.preventDefault();
    const body = input(false);
    if (typeof body === 'string') return showError(body);
    setBusy('save');
    setCheck(undefined);
    try {
      const saved = editing
        ? await api.update(editing.connector.id, body, editing.etag)
        : await api.create(body);
      go(link('connectors', saved.id));
    } catch (error) {
      if (error instanceof ApiError && error.code === 'PRECONDITION_FAILED') {
        showError(
          new ApiError(
            412,
            error.code,
            'Someone changed this connector since you opened it: reload the page to edit the current version.',
          ),
        );
      } else showError(error);
    } finally {
      setBusy('');
    }
  }

  async function checkForm() {
    const body = input(true);
    if (typeof body === 'string') return showError(body);
    setBusy('check');
    setCheck(undefined);
    setFieldErrors({});
    setBanner(null);
    try {
      setCheck(await api.checkInput(body));
    } catch (error) {
      showError(error);
    } finally {
      setBusy('');
    }
  }

  return (
    <form ref={formRef} class="connector-form" noValidate onSubmit={save} aria-busy={busy !== ''}>
      <p class="muted">
        {type.displayName}: {type.description}
      </p>
      <Banner error={banner} />
      <Field
        id={fieldId('name')}
        label="Name"
        value={name}
        required
        kind="text"
        help="Unique within the account; 1 to 255 characters."
        error={fieldErrors.name}
        onInput={setName}
      />
      <fieldset>
        <legend>Params</legend>
        {type.params.length === 0 && <p class="muted">This type has no params.</p>}
        {type.params.map((param) => (
          <Field
            key={param.name}
            id={fieldId(`params.${param.name}`)}
            label={paramLabel(param)}
            value={values[param.name] ?? ''}
            required={param.required}
            kind={param.secret ? 'password' : param.format === 'url' ? 'url' : 'text'}
            help={
              param.secret && stored?.params[param.name] !== undefined
                ? `${sentence(param.description)} Secret: leave empty to keep the stored value.`
                : `${sentence(param.description)}${param.secret ? ' Secret: stored sealed, never shown in the console.' : ''}`
            }
            {...(param.secret && stored?.params[param.name] !== undefined
              ? { placeholder: 'leave empty to keep the stored value' }
              : {})}
            error={fieldErrors[`params.${param.name}`]}
            onInput={(value) => setValues((current) => ({ ...current, [param.name]: value }))}
          />
        ))}
      </fieldset>
      <CheckOutcome result={check} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy !== ''}>
          {busy === 'save' ? 'Saving…' : editing ? 'Save changes' : 'Create connector'}
        </button>
        {type.checkable && (
          <button type="button" onClick={checkForm} disabled={busy !== ''}>
            {busy === 'check' ? 'Checking…' : 'Check before saving'}
          </button>
        )}
        <a class="button" href={editing ? link('connectors', editing.connector.id) : link('connectors')}>
          Cancel
        </a>
      </div>
      {!type.checkable && <p class="muted">Not checkable: {type.check}</p>}
    </form>
  );
}

/** A description as a sentence ending in a full stop. */
function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function fieldId(field: string): string {
  return `field-${field.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}
