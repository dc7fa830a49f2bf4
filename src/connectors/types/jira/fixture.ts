import { isRecord } from '../../../is-record.js';
import { type DeliveryFake, defineFixture, GOOD, NOT_FOUND_PAGE } from '../../fixture.js';
import { idIn, isTextAt, jsonObject, objectAt, route, TicketBook } from '../../tickets/fixture.js';
import { jira } from './index.js';

const TRANSITIONS = [
  { id: '11', name: 'Start progress', to: { name: 'In Progress', statusCategory: { key: 'indeterminate' } } },
  { id: '31', name: 'Done', to: { name: 'Done', statusCategory: { key: 'done' } } },
];

/** An Atlassian Document Format document, as Jira Cloud's REST API 3 requires for rich text. */
function isAdf(value: unknown): boolean {
  return (
    isRecord(value) &&
    value.type === 'doc' &&
    value.version === 1 &&
    Array.isArray(value.content) &&
    value.content.length > 0
  );
}

/** Jira Cloud's issue API: create, comment, transitions; issues of project OPS only. */
function jiraFake(): DeliveryFake {
  const book = new TicketBook();
  return {
    actions: book.actions,
    answer(request) {
      const { path, goodBasic, send } = request;
      if (!path.startsWith('/rest/api/3/issue')) return send(404, NOT_FOUND_PAGE);
      if (!goodBasic)
        return send(401, {
          errorMessages: ['Client must be authenticated to access this resource.'],
          errors: {},
        });
      const body = jsonObject(request);
      if (route(request) === 'POST /rest/api/3/issue') {
        const fields = objectAt(body, 'fields');
        if (objectAt(fields, 'project')?.key !== 'OPS')
          return send(400, { errorMessages: [], errors: { project: 'valid project is required' } });
        if (!isTextAt(objectAt(fields, 'issuetype'), 'name'))
          return send(400, { errorMessages: [], errors: { issuetype: 'Specify an issue type' } });
        if (!isTextAt(fields, 'summary', 255))
          return send(400, {
            errorMessages: [],
            errors: { summary: 'You must specify a summary of the issue.' },
          });
        if (!isAdf(fields?.description))
          return send(400, {
            errorMessages: [],
            errors: { description: 'Operation value must be an Atlassian Document.' },
          });
        const key = book.open('OPS-');
        return send(201, {
          id: String(10_000 + book.actions.length),
          key,
          self: `${request.origin}/rest/api/3/issue/${key}`,
        });
      }
      const key = idIn(path, /^\/rest\/api\/3\/issue\/([^/]+)\/(?:comment|transitions)$/);
      if (key === undefined || !book.has(key))
        return send(404, {
          errorMessages: ['Issue does not exist or you do not have permission to see it.'],
          errors: {},
        });
      switch (route(request)) {
        case `POST /rest/api/3/issue/${key}/comment`:
          if (!isAdf(body?.body))
            return send(400, { errorMessages: ['Comment body must be an Atlassian Document.'] });
          book.comment(key);
          return send(201, { id: '10100', body: body?.body });
        case `GET /rest/api/3/issue/${key}/transitions`:
          return send(200, { expand: 'transitions', transitions: book.isOpen(key) ? TRANSITIONS : [] });
        case `POST /rest/api/3/issue/${key}/transitions`: {
          const id = objectAt(body, 'transition')?.id;
          if (!book.isOpen(key) || !TRANSITIONS.some((t) => t.id === id))
            return send(400, { errorMessages: ['Transition id is not valid for this issue.'], errors: {} });
          if (id === '31') book.close(key);
          return send(204, '');
        }
        default:
          return send(405, { errorMessages: ['Method not allowed'] });
      }
    },
  };
}

export const fixture = defineFixture(jira, {
  example: {
    url: 'https://example.atlassian.net',
    email: 'bot@example.com',
    password: 'atlassian-api-token',
  },
  target: {
    params: (base, { user, password }) => ({ url: base, email: user, password }),
    // Jira Cloud: GET /rest/api/3/myself; a locked account answers 403 with X-Seraph-LoginReason.
    answer({ path, basic, goodBasic, send }) {
      if (path !== '/rest/api/3/myself') return send(404, NOT_FOUND_PAGE);
      if (basic?.user === GOOD.lockedUser) {
        return send(
          403,
          { errorMessages: ['Basic authentication failed: CAPTCHA required'] },
          {
            'x-seraph-loginreason': 'AUTHENTICATION_DENIED',
            'x-authentication-denied-reason':
              'CAPTCHA_CHALLENGE; login-url=https://example.atlassian.net/login.jsp',
          },
        );
      }
      if (goodBasic)
        return send(200, { accountId: '5b10a2844c20165700ede21g', emailAddress: GOOD.user, active: true });
      return send(401, {
        errorMessages: ['Client must be authenticated to access this resource.'],
        errors: {},
      });
    },
    locked: /AUTHENTICATION_DENIED.*locked/,
  },
  delivery: {
    params: (base, { user, password }) => ({ url: base, email: user, password }),
    options: { project: 'OPS' },
    fake: jiraFake,
  },
});
