import { defineFixture } from '../../fixture.js';
import { slack } from './index.js';

export const fixture = defineFixture(slack, { example: {} });
