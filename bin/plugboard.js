#!/usr/bin/env node
// The `plugboard` command. The TypeScript sources are compiled to dist/ and bundled into
// dist/plugboard.cjs by `npm ci` (the package's `prepare` script) or by `npm run build`
// (scripts/bundle.mjs), with dist/plugboard.cjs.cache beside it: V8's compiled code for what a
// server's start runs (scripts/code-cache.mjs). Compiled here through node:vm, the one way Node 20
// takes a code cache, a start skips most of parsing and compiling the bundle; a cache that does
// not fit is not used (below), and the bundle is then compiled from its source as without one.
// Built-in modules through process.getBuiltinModule, not import: an import makes each one's ES
// module facade, which reads every export, and so loads what some load only when read (node:crypto's
// webcrypto, node:fs's promises): ~3 ms of a start (issue 15).
const { createHash } = process.getBuiltinModule('node:crypto');
const { closeSync, fstatSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } =
  process.getBuiltinModule('node:fs');
const { createRequire } = process.getBuiltinModule('node:module');
const { dirname } = process.getBuiltinModule('node:path');
const { fileURLToPath, pathToFileURL } = process.getBuiltinModule('node:url');
const vm = process.getBuiltinModule('node:vm');

const file = fileURLToPath(new URL('../dist/plugboard.cjs', import.meta.url));
const cacheFile = `${file}.cache`;

/** The bundle file's stamp (see the cache below). */
const stampOf = () => {
  const stat = statSync(file, { bigint: true });
  return `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
};
let source;
/** The stamp of the bytes read: taken before and after reading them; 'changing' if the two differ. */
let stamp;
try {
  const before = stampOf();
  source = readFileSync(file);
  stamp = stampOf() === before ? before : 'changing';
} catch {
  process.stderr.write('plugboard: dist/plugboard.cjs is missing; run `npm ci` (or `npm run build`) first\n');
  process.exit(1);
}

// The cache file: one line naming the bundle it was made from (its SHA-256 and the file's stamp
// below) and the Node.js that made it, then V8's data. V8 itself refuses data of another V8
// version or other flags, but checks the source by its length alone: a cache of another bundle of
// the same length would run that bundle's code. Hence the digest, checked here. Hashing the
// bundle costs ~2 ms of every start (issue 15), so it is skipped while the bundle is the very file
// the cache was made from, unchanged since: the same inode, size, modification and change time
// (the change time, which a write or any change of the file's metadata sets to the clock's now and
// no program can set back). A bundle copied, unpacked or rewritten has another stamp and is hashed,
// and so is one that changed while it was read ('changing', never a file's stamp).
const MAGIC = 'plugboard-code-cache-2';
const digestOf = () => createHash('sha256').update(source).digest('hex');
const runtime = `${process.version} ${process.arch}`;
/** The source's digest, for a cache to be written (PLUGBOARD_WRITE_CODE_CACHE, below). */
const writing = process.env.PLUGBOARD_WRITE_CODE_CACHE === '1';
const digest = writing ? digestOf() : undefined;

// The bundle is one function expression (scripts/bundle.mjs), and ASCII (esbuild escapes the
// rest): latin1 reads it as it is, as a one-byte string.
const text = source.toString('latin1');

/** Fills `into` with the bytes of `fd` from `position` on; false if the file has fewer. */
const readFully = (fd, into, position) => {
  for (let done = 0; done < into.length; ) {
    const read = readSync(fd, into, done, into.length - done, position + done);
    if (read === 0) return false;
    done += read;
  }
  return true;
};

// V8's data is read into the bundle's bytes, no longer needed once `text` is made: a fresh 2 MB
// buffer costs a page fault per 4 KiB as it is first written, ~5 ms of a start on a machine
// whose page faults take 10 µs (issue 15). The header first, and the digest then if it is wanted:
// the data overwrite what it hashes. One descriptor for both, so a cache renamed over this one
// meanwhile (a build) is not read half from each.
let cachedData;
let fd;
try {
  fd = openSync(cacheFile, 'r');
  const head = Buffer.alloc(512);
  const end = head.subarray(0, readSync(fd, head, 0, head.length, 0)).indexOf(10);
  const [magic, madeFor, version, arch, madeFrom, ...rest] = head
    .subarray(0, Math.max(end, 0))
    .toString('latin1')
    .split(' ');
  if (
    end > 0 &&
    rest.length === 0 &&
    magic === MAGIC &&
    `${version} ${arch}` === runtime &&
    (madeFrom === stamp || madeFor === (digest ?? digestOf()))
  ) {
    const length = fstatSync(fd).size - end - 1;
    const into = length <= source.length ? source.subarray(0, length) : Buffer.allocUnsafe(length);
    if (readFully(fd, into, end + 1)) cachedData = into;
  }
} catch {
  // no cache (not built, or removed): compiled from the source
} finally {
  if (fd !== undefined) closeSync(fd);
}

const script = new vm.Script(text, {
  filename: file,
  cachedData,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});

// scripts/code-cache.mjs runs a server with this set and stops it: the code compiled by then goes
// into the cache. Written to a new file renamed over the old one, so that a start never reads half.
// Not from the deliveries thread (src/deliveries/thread-host.ts), which runs this file too.
if (writing && process.getBuiltinModule('node:worker_threads').isMainThread) {
  process.once('exit', () => {
    // V8 stamps a code cache with a hash of its flags and rejects it where they differ: the server
    // sets two once it listens, or once its deliveries thread has booted (src/server.ts,
    // src/young-generation.ts), which a fresh start has not set when it reads the cache. V8's
    // defaults again first, or every start compiles the bundle from source.
    const v8 = process.getBuiltinModule('node:v8');
    v8.setFlagsFromString('--heap-growing-percent=0');
    v8.setFlagsFromString('--semi-space-growth-factor=2');
    const temporary = `${cacheFile}.${process.pid}`;
    const header = `${MAGIC} ${digest} ${runtime} ${stamp}\n`;
    writeFileSync(temporary, Buffer.concat([Buffer.from(header, 'latin1'), script.createCachedData()]));
    renameSync(temporary, cacheFile);
  });
}

// The bundle's bytes (~3 MB, with the cache's data in them: V8 compiled from a copy of the source
// and from those data) are not needed once compiled, and would otherwise stay for the life of the
// process.
source = undefined;
cachedData = undefined;

const module = { exports: {} };
script.runInThisContext()(
  module.exports,
  createRequire(file),
  module,
  file,
  dirname(file),
  pathToFileURL(file).href,
);
const code = await module.exports.main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
