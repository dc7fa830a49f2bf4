/** Plugboard's version, as package.json says (src/version.test.ts and test/cli-manners.test.ts keep them equal); `plugboard --version` prints it. */
export const VERSION = '0.1.0';
