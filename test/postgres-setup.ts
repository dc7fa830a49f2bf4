import { beforeEach, inject } from 'vitest';

// Every test of the `postgres` project is skipped, with the reason, when no PostgreSQL answers
// (and CI=true fails in the global setup instead).
const info = inject('postgres');
if (info && 'unavailable' in info) {
  beforeEach((context) => {
    context.skip(info.unavailable);
  });
}
