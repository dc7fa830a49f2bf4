/** Plugboard's version, as package.json says (src/version.test.ts keeps them equal). */
export const VERSION = '0.1.0';
