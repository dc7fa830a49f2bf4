/**
 * Settings of `npm run bench`: flags (`--duration 5`, `--duration=5`), each also an environment
 * variable (BENCH_DURATION=5); flags win. `--quick` changes the defaults to a fast smoke run.
 */

const DEFAULTS = {
  duration: 5,
  warmup: 1,
  rounds: 3,
  connections: 50,
  rows: 10_000,
  pagingRows: 1_000_000,
  deletePool: 0,
  startupRuns: 5,
  pageSamples: 50,
  walkBudget: 120,
  deepBudget: 60,
  waitQuiet: 0,
  backends: 'sqlite,postgres',
  parts: 'baseline,throughput,paging',
  cases: 'get,list,create,update,mix',
  postgresCases: 'get,create',
  logLevel: 'info',
  markdown: 'bench-results.md',
  sqliteSynchronous: 'FULL',
  out: 'bench-results.json',
  cacheDir: 'data/bench',
  postgresDatabase: 'plugboard_bench',
};

const QUICK = {
  duration: 3,
  warmup: 1,
  rounds: 1,
  pagingRows: 100_000,
  startupRuns: 3,
  pageSamples: 20,
  walkBudget: 60,
  deepBudget: 20,
};

const FLAGS = new Set(['quick', 'fresh', 'skipBuild', 'strict', 'help']);
const NUMBERS = new Set([
  'duration',
  'warmup',
  'rounds',
  'connections',
  'rows',
  'pagingRows',
  'deletePool',
  'startupRuns',
  'pageSamples',
  'walkBudget',
  'deepBudget',
  'waitQuiet',
]);

export const HELP = `npm run bench [-- options]     (each option is also an environment variable: --paging-rows → BENCH_PAGING_ROWS)

  --quick                 a smoke run: 1 round, 3 s per case, 100,000 paging rows, fewer samples
  --rounds N              rounds of the throughput cases, each after its own ceiling run; medians (3)
  --duration S            measured seconds per throughput case (5)
  --warmup S              unrecorded warm-up seconds before each case, same load (1)
  --connections N         autocannon connections (50)
  --rows N                connectors in the bench account of the throughput database (10000)
  --delete-pool N         connectors seeded for the DELETE case (default: 4000 per second of warm-up + duration)
  --paging-rows N         connectors in the one account of the paging database (1000000)
  --startup-runs N        server starts to time (5)
  --page-samples N        requests per paging latency sample (50)
  --walk-budget S         time budget of the page walk; raised to 2.1 × pages × first page (120)
  --deep-budget S         time budget of each deep-page sample (60)
  --wait-quiet S          before each case, wait up to S s for other processes to use < 10 % CPU (0: off)
  --backends LIST         sqlite,postgres (PostgreSQL is skipped with the reason when it does not answer)
  --parts LIST            baseline,throughput,paging
  --cases LIST            SQLite throughput cases: get,list,create,update,delete,mix (all but delete)
  --postgres-cases LIST   PostgreSQL throughput cases, the same names (get,create: those with targets)
  --fresh                 reseed the cached paging databases
  --skip-build            use dist/ as it is (default: npm run build first)
  --log-level L           LOG_LEVEL of the server (info, the service's default: a line per request)
  --sqlite-synchronous S  PLUGBOARD_SQLITE_SYNCHRONOUS of the server (FULL, the default of the service)
  --out FILE              the JSON results (bench-results.json)
  --markdown FILE         the results and targets as Markdown tables, for the README (bench-results.md)
  --cache-dir DIR         where seeded SQLite paging databases are kept (data/bench)
  --postgres-database DB  the cached PostgreSQL paging database (plugboard_bench; plugboard_bench_<rows> for
                          other sizes; <DB>_tp is the throughput database, made afresh each run)
  --strict                exit 1 when a target fails or any request was not 2xx

  PLUGBOARD_BENCH_POSTGRES_URL  the PostgreSQL admin connection (postgres://postgres@127.0.0.1:5432/test)`;

/**
 * The settings of one run, checked.
 * @typedef {object} BenchOptions
 * @property {number} duration measured seconds per throughput case
 * @property {number} warmup unrecorded seconds before each case
 * @property {number} rounds rounds of the throughput cases
 * @property {number} connections
 * @property {number} rows connectors in the throughput database's bench account
 * @property {number} pagingRows connectors in the paging database
 * @property {number} deletePool connectors seeded for the DELETE case
 * @property {number} startupRuns
 * @property {number} pageSamples
 * @property {number} walkBudget seconds
 * @property {number} deepBudget seconds
 * @property {number} waitQuiet seconds; 0: off
 * @property {string[]} backends `sqlite`, `postgres`
 * @property {string[]} parts `baseline`, `throughput`, `paging`
 * @property {string[]} cases `get`, `list`, `create`, `update`, `delete`, `mix` (SQLite)
 * @property {string[]} postgresCases the same, on PostgreSQL
 * @property {string} markdown
 * @property {string} logLevel
 * @property {string} sqliteSynchronous
 * @property {string} out
 * @property {string} cacheDir
 * @property {string} postgresDatabase
 * @property {string} postgresAdminUrl
 * @property {boolean} quick
 * @property {boolean} fresh
 * @property {boolean} skipBuild
 * @property {boolean} strict
 * @property {boolean} help
 */

/** @param {string} flag */
const camel = (flag) => flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
/** @param {string} key */
const envName = (key) => `BENCH_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/**
 * @param {readonly string[]} argv
 * @param {NodeJS.ProcessEnv} env
 * @returns {BenchOptions}
 */
export function parseOptions(argv, env) {
  /** @type {Record<string, string | boolean>} */
  const given = {};
  for (const key of [...Object.keys(DEFAULTS), ...FLAGS]) {
    const value = env[envName(key)];
    if (value !== undefined && value !== '')
      given[key] = FLAGS.has(key) ? value !== '0' && value !== 'false' : value;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}; see --help`);
    const [name = '', inline] = arg.slice(2).split(/=(.*)/s);
    const key = camel(name);
    if (FLAGS.has(key)) {
      given[key] = inline === undefined ? true : inline !== '0' && inline !== 'false';
    } else if (key in DEFAULTS) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      given[key] = value;
    } else {
      throw new Error(`unknown option --${name}; see --help`);
    }
  }
  /** @type {Record<string, unknown>} */
  const merged = { ...DEFAULTS, ...(given.quick ? QUICK : {}), ...given };
  /** @param {string} key */
  const number = (key) => {
    const value = Number(String(merged[key]).replaceAll('_', ''));
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${key} must be a number ≥ 0`);
    return value;
  };
  /** @param {string} key */
  const list = (key) =>
    String(merged[key])
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  /** @param {string} key @param {readonly string[]} known @param {string} what */
  const listOf = (key, known, what) => {
    const values = list(key);
    for (const value of values) if (!known.includes(value)) throw new Error(`unknown ${what} ${value}`);
    return values;
  };
  const numbers = Object.fromEntries([...NUMBERS].map((key) => [key, number(key)]));
  for (const key of ['connections', 'duration', 'rounds', 'startupRuns', 'pageSamples']) {
    if ((numbers[key] ?? 0) < 1) throw new Error(`--${key} must be at least 1`);
  }
  /** @param {string} key */
  const n = (key) => numbers[key] ?? 0;
  const backends = listOf('backends', ['sqlite', 'postgres'], 'backend');
  const caseNames = ['get', 'list', 'create', 'update', 'delete', 'mix'];
  const cases = listOf('cases', caseNames, 'case');
  const postgresCases = listOf('postgresCases', caseNames, 'case');
  const parts = listOf('parts', ['baseline', 'throughput', 'paging'], 'part');
  return {
    duration: n('duration'),
    warmup: n('warmup'),
    rounds: n('rounds'),
    connections: n('connections'),
    rows: n('rows'),
    pagingRows: n('pagingRows'),
    deletePool:
      n('deletePool') ||
      (cases.includes('delete') || postgresCases.includes('delete')
        ? Math.max(10_000, Math.ceil((n('duration') + n('warmup')) * n('rounds') * 4000))
        : 0),
    startupRuns: n('startupRuns'),
    pageSamples: n('pageSamples'),
    walkBudget: n('walkBudget'),
    deepBudget: n('deepBudget'),
    waitQuiet: n('waitQuiet'),
    backends,
    parts,
    cases,
    postgresCases,
    markdown: String(merged.markdown),
    logLevel: String(merged.logLevel),
    sqliteSynchronous: String(merged.sqliteSynchronous),
    out: String(merged.out),
    cacheDir: String(merged.cacheDir),
    postgresDatabase: String(merged.postgresDatabase),
    postgresAdminUrl: env.PLUGBOARD_BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test',
    quick: Boolean(merged.quick),
    fresh: Boolean(merged.fresh),
    skipBuild: Boolean(merged.skipBuild),
    strict: Boolean(merged.strict),
    help: Boolean(merged.help),
  };
}
