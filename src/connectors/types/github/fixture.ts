import { type DeliveryFake, defineFixture, GOOD } from '../../fixture.js';
import { idIn, isTextAt, jsonObject, route, TicketBook } from '../../tickets/fixture.js';
import { github } from './index.js';

const docs = 'https://docs.github.com/rest';

/** GitHub's issues API for the repository octo-org/ops: create, comment, close. */
function githubFake(): DeliveryFake {
  const book = new TicketBook();
  return {
    actions: book.actions,
    answer(request) {
      const { req, path, send, origin } = request;
      if (req.headers.authorization !== `Bearer ${GOOD.token}`)
        return send(401, { message: 'Bad credentials', documentation_url: docs });
      if (!path.startsWith('/repos/octo-org/ops/issues'))
        return send(404, { message: 'Not Found', documentation_url: docs });
      const body = jsonObject(request);
      const html = (number: string) => `${origin}/octo-org/ops/issues/${number}`;
      if (route(request) === 'POST /repos/octo-org/ops/issues') {
        const labels = body?.labels;
        const labelsOk =
          labels === undefined || (Array.isArray(labels) && labels.every((l) => typeof l === 'string'));
        if (!isTextAt(body, 'title', 256) || typeof body?.body !== 'string' || !labelsOk)
          return send(422, {
            message: 'Validation Failed',
            errors: [{ resource: 'Issue', code: 'missing_field', field: 'title' }],
          });
        const number = book.open();
        return send(201, {
          id: 1_000 + Number(number),
          number: Number(number),
          html_url: html(number),
          state: 'open',
        });
      }
      const number = idIn(path, /^\/repos\/octo-org\/ops\/issues\/(\d+)(?:\/comments)?$/);
      if (number === undefined || !book.has(number))
        return send(404, { message: 'Not Found', documentation_url: docs });
      switch (route(request)) {
        case `POST /repos/octo-org/ops/issues/${number}/comments`:
          if (!isTextAt(body, 'body')) return send(422, { message: 'Validation Failed' });
          book.comment(number);
          return send(201, { id: 77, html_url: `${html(number)}#issuecomment-77` });
        case `PATCH /repos/octo-org/ops/issues/${number}`:
          if (body?.state !== 'closed') return send(422, { message: 'Validation Failed' });
          book.close(number);
          return send(200, { number: Number(number), state: 'closed', html_url: html(number) });
        default:
          return send(404, { message: 'Not Found', documentation_url: docs });
      }
    },
  };
}

export const fixture = defineFixture(github, {
  example: { apiKey: 'ghp_0123456789abcdefghijklmnopqrstuvwxyz' },
  target: {
    params: (_base, { token }) => ({ apiKey: token }),
    // GET /user with a Bearer token.
    answer({ req, path, send }) {
      if (path !== '/user') return send(404, { message: 'Not Found', documentation_url: docs });
      const auth = req.headers.authorization;
      if (auth === `Bearer ${GOOD.token}`) return send(200, { login: 'octocat', id: 1 });
      if (auth === `Bearer ${GOOD.lockedToken}`)
        return send(403, { message: 'Sorry. Your account was suspended.', documentation_url: docs });
      if (auth === `Bearer ${GOOD.rateLimitedToken}`) {
        return send(
          403,
          { message: 'API rate limit exceeded for user ID 1.', documentation_url: `${docs}/rate-limit` },
          { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1700000000' },
        );
      }
      return send(401, { message: 'Bad credentials', documentation_url: docs });
    },
    locked: /refused the credentials.*Your account was suspended/,
  },
  delivery: {
    params: (_base, { token }) => ({ apiKey: token }),
    options: { owner: 'octo-org', repository: 'ops', labels: ['alert'] },
    fake: githubFake,
  },
});
