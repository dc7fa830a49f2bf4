import { defineFixture } from '../../fixture.js';
import { mattermost } from './index.js';

export const fixture = defineFixture(mattermost, {
  example: { url: 'https://chat.example.com/hooks/xyz123abc' },
  refusedOffline: [{ url: 'https://chat.example.com/some/page' }],
});
