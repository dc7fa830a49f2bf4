import { describe, expect, it } from 'vitest';
import { UnknownConnectorTypeError } from '../connectors/registry.js';
import { SECRET_PLACEHOLDER } from '../connectors/secrets.js';
import { presentReplay } from './present.js';

describe('presentReplay', () => {
  const recorded = {
    id: 'c1',
    type: 'jira',
    name: 'j',
    params: { url: 'https://j.example.com', password: 'pw' },
  };

  it('masks the secrets of a recorded response for a caller who may not see them', () => {
    expect(presentReplay(recorded, 'read', 'write-keys')).toEqual({
      ...recorded,
      params: { url: 'https://j.example.com', password: SECRET_PLACEHOLDER },
    });
    expect(presentReplay(recorded, 'write', 'write-keys')).toEqual(recorded);
  });

  it('refuses a recorded response of a type no longer registered, naming it for the log', () => {
    const stray = { ...recorded, type: 'retired_type' };
    expect(() => presentReplay(stray, 'read', 'write-keys')).toThrow(UnknownConnectorTypeError);
    expect(() => presentReplay(stray, 'write', 'never')).toThrow(
      /recorded response of c1 has type "retired_type"/,
    );
  });
});
