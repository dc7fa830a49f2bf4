/** The version `plugboard --version` prints; test/cli-manners.test.ts keeps it equal to package.json's. */
export const VERSION = '0.1.0';
