import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';

/**
 * bin/plugboard.js compiles the bundle (dist/plugboard.cjs) with V8's code cache beside it
 * (dist/plugboard.cjs.cache, made by the build). V8 checks a cache against the source's length
 * alone: a cache made from another bundle of the same length would run that bundle's code. These
 * run copies of the command whose bundle or cache differ from the build's.
 */
const root = fileURLToPath(new URL('../', import.meta.url));
const bundle = join(root, 'dist/plugboard.cjs');
const cache = `${bundle}.cache`;

describe('the code cache of the bundle', () => {
  let folder: string;

  beforeAll(() => {
    if (!existsSync(bundle)) throw new Error('dist/plugboard.cjs is missing: npm run build');
    folder = mkdtempSync(join(tmpdir(), 'plugboard-code-cache-test-'));
  });

  afterAll(() => {
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  /** A copy of the command (bin/, dist/ with `source` and `cacheData`) in a folder of its own. */
  function copy(name: string, source: string, cacheData: Buffer | undefined): string {
    const at = join(folder, name);
    mkdirSync(join(at, 'bin'), { recursive: true });
    mkdirSync(join(at, 'dist'));
    copyFileSync(join(root, 'bin/plugboard.js'), join(at, 'bin/plugboard.js'));
    copyFileSync(join(root, 'package.json'), join(at, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(at, 'node_modules'));
    writeFileSync(join(at, 'dist/plugboard.cjs'), source, 'latin1');
    if (cacheData) writeFileSync(join(at, 'dist/plugboard.cjs.cache'), cacheData);
    return at;
  }

  function version(at: string): string {
    const result = spawnSync(process.execPath, [join(at, 'bin/plugboard.js'), '--version'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
      timeout: 30_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    return result.stdout.trim();
  }

  it('is made by the build, one line naming the bundle (digest and stamp) and the Node.js, then V8 data', () => {
    const header = readFileSync(cache).subarray(0, 300).toString('latin1').split('\n')[0];
    const stat = statSync(bundle, { bigint: true });
    expect(header).toBe(
      `plugboard-code-cache-2 ${createHash('sha256').update(readFileSync(bundle)).digest('hex')} ${process.version} ${process.arch} ${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`,
    );
  });

  it("is accepted by V8 in a fresh process (its flags' hash is a fresh start's: the server changes two once it listens)", () => {
    const script = [
      "const { readFileSync } = require('node:fs');",
      "const vm = require('node:vm');",
      `const data = readFileSync(${JSON.stringify(cache)});`,
      `const source = readFileSync(${JSON.stringify(bundle)}).toString('latin1');`,
      `const compiled = new vm.Script(source, { filename: ${JSON.stringify(bundle)}, cachedData: data.subarray(data.indexOf(10) + 1) });`,
      'process.stdout.write(String(compiled.cachedDataRejected));',
    ].join('\n');
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('false');
  });

  it('is not used once its bundle is rewritten in place (same file, same length, other code)', async () => {
    const source = readFileSync(bundle, 'latin1');
    const data = readFileSync(cache);
    const at = copy('rewritten', source, undefined);
    const copied = join(at, 'dist/plugboard.cjs');
    // The cache as the build would have made it for this copy: stamped with the copy's file.
    const stat = statSync(copied, { bigint: true });
    const header = data.subarray(0, data.indexOf(10)).toString('latin1').split(' ');
    header[4] = `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
    writeFileSync(
      join(at, 'dist/plugboard.cjs.cache'),
      Buffer.concat([Buffer.from(`${header.join(' ')}\n`, 'latin1'), data.subarray(data.indexOf(10) + 1)]),
    );
    expect(version(at)).toBe(`plugboard ${VERSION}`);
    // A later write of the same file (file times have a clock tick's resolution): its change time moves.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const other = VERSION.replace(/\d$/, (digit) => String((Number(digit) + 1) % 10));
    writeFileSync(copied, source.replace(`VERSION="${VERSION}"`, `VERSION="${other}"`), 'latin1');
    expect(statSync(copied, { bigint: true }).ino).toBe(stat.ino);
    expect(version(at)).toBe(`plugboard ${other}`);
  });

  it("is not used with another bundle of the same length: that bundle's own code runs", () => {
    const source = readFileSync(bundle, 'latin1');
    const declared = `VERSION="${VERSION}"`;
    expect(source).toContain(declared);
    // Same length, other code: a cache taken for it would print the build's version.
    const other = VERSION.replace(/\d$/, (digit) => String((Number(digit) + 1) % 10));
    const changed = source.replace(declared, `VERSION="${other}"`);
    expect(changed.length).toBe(source.length);
    expect(version(copy('changed', changed, readFileSync(cache)))).toBe(`plugboard ${other}`);
  });

  it('runs the bundle as built with its cache, without one, and with a damaged one', () => {
    const source = readFileSync(bundle, 'latin1');
    const data = readFileSync(cache);
    expect(version(copy('cached', source, data))).toBe(`plugboard ${VERSION}`);
    expect(version(copy('uncached', source, undefined))).toBe(`plugboard ${VERSION}`);
    // A header that names another Node.js: not handed to V8.
    const header = data.subarray(0, data.indexOf(10) + 1).toString('latin1');
    const otherNode = Buffer.concat([
      Buffer.from(header.replace(process.version, 'v0.0.0'), 'latin1'),
      data.subarray(header.length),
    ]);
    expect(version(copy('other-node', source, otherNode))).toBe(`plugboard ${VERSION}`);
    // V8's data cut short: V8 refuses it and compiles the source.
    expect(version(copy('truncated', source, data.subarray(0, header.length + 1000)))).toBe(
      `plugboard ${VERSION}`,
    );
  });
});
