import { defineFixture } from '../../fixture.js';
import { googleChatBot } from './index.js';

export const fixture = defineFixture(googleChatBot, { example: {} });
