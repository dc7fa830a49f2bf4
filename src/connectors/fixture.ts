import type { IncomingMessage } from 'node:http';
import type { Params } from './checks/types.js';
import type { ConnectorType, ParamSpecs, ParamsOf } from './define.js';
import { type ConnectorTypeId, connectorTypes, type RegisteredType } from './registry.js';

// Test support, kept out of the build and the bundle (tsconfig.build.json) and type-checked by
// `tsc --noEmit`. What the tests know of a connector type beyond its declaration sits beside it, in
// types/<id>/fixture.ts: valid example params, how the fake of its system answers a check, and what
// that check says of a locked account. Tests load the fixture of every registered type; none keeps a
// table or a switch of its own per type.

/** Credentials the fakes accept, or know as those of a locked (suspended, blocked, expired) account. */
export const GOOD = {
  user: 'agent@example.com',
  password: 'good-secret',
  token: 'good-token',
  lockedUser: 'locked@example.com',
  lockedToken: 'locked-token',
  /** An Autotask user whose zone is another one than the URL's. */
  otherZoneUser: 'far@example.com',
  /** A GitHub token that meets an exhausted rate limit. */
  rateLimitedToken: 'rate-limited-token',
} as const;

/** What a fixture's `params` builds a connector's credentials from. */
export interface Credentials {
  readonly user: string;
  readonly password: string;
  readonly token: string;
}

export const CREDENTIALS: Readonly<Record<'good' | 'bad' | 'locked', Credentials>> = {
  good: { user: GOOD.user, password: GOOD.password, token: GOOD.token },
  bad: { user: 'someone@example.com', password: 'wrong-secret', token: 'wrong-token' },
  locked: { user: GOOD.lockedUser, password: GOOD.password, token: GOOD.lockedToken },
};

export type Send = (status: number, body: unknown, headers?: Record<string, string>) => void;

/** A request to a fake target, as its system sees it. */
export interface FakeRequest {
  readonly req: IncomingMessage;
  /** The path below the system's base URL, e.g. `/rest/api/3/myself`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The user and password of a Basic Authorization header. */
  readonly basic: { user: string; password: string } | undefined;
  /** Basic auth with GOOD.user and GOOD.password. */
  readonly goodBasic: boolean;
  readonly body: string;
  /** `http://host:port` of the fake. */
  readonly origin: string;
  /** Answers: a string body is sent as text/html, anything else as JSON. */
  readonly send: Send;
}

/** How a fake of a system answers; it must answer every request (404 for what is not its API). */
export type FakeSystem = (request: FakeRequest) => void;

/** What a web server answers for a path that is not the system's API (a wrong base URL). */
export const NOT_FOUND_PAGE = '<html><body><h1>404 Not Found</h1></body></html>';

/** The fake target of a checkable type. */
export interface FakeTarget<P> {
  /**
   * Params pointed at `base` with these credentials. A type with a fixed endpoint ignores `base`:
   * the tests point its endpoint there instead.
   */
  params(base: string, credentials: Credentials): P;
  /** How the system answers below `base`. */
  readonly answer: FakeSystem;
  /** Other versions of the system, by name: each answers below `<base>@<name>`. */
  readonly versions?: Readonly<Record<string, FakeSystem>>;
  /**
   * What the check says when the fake knows the credentials as a locked account's (a RegExp the
   * message matches), or why the check cannot see one: it then reports ok.
   */
  readonly locked: RegExp | { readonly unseen: string };
}

export interface TypeFixture<P> {
  /** Valid params as a user of the system sends them (webhook URLs of the system's shape). */
  readonly example: P;
  /** A checkable type's fake target; exactly the types whose check is online have one. */
  readonly target?: FakeTarget<P>;
  /** Params the type's offline validation refuses, though they pass the schema. */
  readonly refusedOffline?: readonly P[];
}

/** One type's fixture, as tests that iterate the registry see it. */
export class ConnectorTypeFixture {
  constructor(
    readonly type: RegisteredType,
    readonly fixture: TypeFixture<Params>,
  ) {}
}

/** Declares the fixture of a type: its params are the type's, by name. */
export function defineFixture<Id extends ConnectorTypeId, S extends ParamSpecs>(
  type: ConnectorType<Id, S>,
  fixture: TypeFixture<ParamsOf<S>>,
): ConnectorTypeFixture {
  return new ConnectorTypeFixture(type, fixture);
}

/** The fixture of a registered type, from types/<id>/fixture.ts. */
export async function loadFixture(type: RegisteredType): Promise<TypeFixture<Params>> {
  const expected = `src/connectors/types/${type.id}/fixture.ts, exporting \`const fixture = defineFixture(<the type>, {…})\``;
  let module: unknown;
  try {
    module = await import(`./types/${type.id}/fixture.ts`);
  } catch (error) {
    throw new Error(`connector type ${type.id} has no fixture: every registered type needs ${expected}`, {
      cause: error,
    });
  }
  const found =
    typeof module === 'object' && module !== null && 'fixture' in module ? module.fixture : undefined;
  if (!(found instanceof ConnectorTypeFixture) || found.type !== type) {
    throw new Error(`the fixture of connector type ${type.id} is not its own: expected ${expected}`);
  }
  return found.fixture;
}

/** The fixture of every registered type, by id. */
export async function loadFixtures(): Promise<ReadonlyMap<ConnectorTypeId, TypeFixture<Params>>> {
  const loaded = await Promise.all(
    connectorTypes.map(async (type) => [type.id, await loadFixture(type)] as const),
  );
  return new Map(loaded);
}
