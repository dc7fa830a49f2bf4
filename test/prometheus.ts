import { spawnSync } from 'node:child_process';

/**
 * Reading /metrics in tests, with two parsers of the Prometheus text format (version 0.0.4):
 *
 * - `parseMetrics`, below: strict, after the format's specification
 *   (prometheus.io/docs/instrumenting/exposition_formats). Hand-written because the one parser on
 *   npm, parse-prometheus-text-format 1.1.1, merges the series of a labelled histogram into one and
 *   drops their labels, and takes `abc` as a value: it could not tell our output right from wrong.
 *   Besides the syntax it checks what a scraper relies on: one TYPE and HELP per family, before its
 *   samples, a family's lines together, no series twice, counters not negative, and each histogram
 *   series complete (buckets in order, cumulative, `+Inf` equal to `_count`, with `_sum`).
 * - `promtoolCheck`: `promtool check metrics`, Prometheus's own parser and linter (naming rules
 *   too). It comes with Debian's `prometheus` package, which .ci/run installs when missing.
 */

export interface Sample {
  /** The sample's own name: `x_bucket`, `x_sum`, `x_count` for a histogram `x`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly help: string;
  readonly samples: readonly Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** The samples a family of each type may have, by suffix of the family's name. */
const SUFFIXES: Record<MetricFamily['type'], readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/**
 * A value as Prometheus reads it (Go's strconv.ParseFloat): a decimal number, or NaN and ±Inf in
 * any case; prom-client writes NaN as `Nan`.
 */
function parseValue(text: string, where: string): number {
  const word = text.toLowerCase();
  if (word === 'nan') return Number.NaN;
  if (/^\+?inf(inity)?$/.test(word)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/.test(word)) return Number.NEGATIVE_INFINITY;
  if (!FLOAT.test(text)) throw new Error(`${where}: "${text}" is not a number`);
  return Number(text);
}

/** `{a="x",b="y\"z"}` from `at` (the `{`); returns the labels and where the text after `}` starts. */
function parseLabels(
  line: string,
  at: number,
  where: string,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at + 1;
  while (line[i] !== '}') {
    const equals = line.indexOf('=', i);
    if (equals < 0) throw new Error(`${where}: a label without "="`);
    const name = line.slice(i, equals);
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name "${name}"`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    if (line[equals + 1] !== '"') throw new Error(`${where}: the value of label ${name} is not quoted`);
    let value = '';
    i = equals + 2;
    for (;;) {
      const char = line[i];
      if (char === undefined) throw new Error(`${where}: the value of label ${name} does not end`);
      i += 1;
      if (char === '"') break;
      if (char === '\\') {
        const escaped = line[i];
        i += 1;
        if (escaped === '\\' || escaped === '"') value += escaped;
        else if (escaped === 'n') value += '\n';
        else throw new Error(`${where}: bad escape \\${escaped ?? ''} in label ${name}`);
      } else value += char;
    }
    labels[name] = value;
    if (line[i] === ',') i += 1;
    else if (line[i] !== '}') throw new Error(`${where}: expected "," or "}" after label ${name}`);
  }
  return { labels, end: i + 1 };
}

const seriesKey = (name: string, labels: Readonly<Record<string, string>>) =>
  `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;

/** A histogram's series, one per label set (without `le`): buckets by upper bound, sum and count. */
export interface HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly buckets: ReadonlyMap<number, number>;
  readonly sum: number;
  readonly count: number;
}

export function histogramSeries(family: MetricFamily): HistogramSeries[] {
  const series = new Map<
    string,
    { labels: Record<string, string>; buckets: [number, number][]; sum?: number; count?: number }
  >();
  for (const sample of family.samples) {
    const { le, ...labels } = sample.labels;
    const key = seriesKey('', labels);
    const entry = series.get(key) ?? { labels, buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([parseValue(le, `${family.name} le`), sample.value]);
    } else if (sample.name.endsWith('_sum')) entry.sum = sample.value;
    else entry.count = sample.value;
  }
  return [...series.values()].map(({ labels, buckets, sum, count }) => {
    const where = `${family.name}${JSON.stringify(labels)}`;
    if (sum === undefined || count === undefined) throw new Error(`${where}: no _sum or no _count`);
    for (let i = 1; i < buckets.length; i++) {
      const [bound, cumulative] = buckets[i] as [number, number];
      const [previousBound, previous] = buckets[i - 1] as [number, number];
      if (bound <= previousBound) throw new Error(`${where}: buckets not in ascending order of le`);
      if (cumulative < previous)
        throw new Error(`${where}: bucket le=${bound} counts less than the one before`);
    }
    const last = buckets.at(-1);
    if (last?.[0] !== Number.POSITIVE_INFINITY) throw new Error(`${where}: no +Inf bucket`);
    if (last[1] !== count) throw new Error(`${where}: the +Inf bucket (${last[1]}) is not _count (${count})`);
    return { labels, buckets: new Map(buckets), sum, count };
  });
}

/** Parses an exposition strictly; throws naming the line and what is wrong with it. */
export function parseMetrics(text: string): MetricFamily[] {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition does not end with a line break');
  const families = new Map<string, { type?: MetricFamily['type']; help?: string; samples: Sample[] }>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const open = (name: string, where: string) => {
    if (current !== name) {
      if (closed.has(name)) throw new Error(`${where}: the lines of ${name} are not together`);
      if (current !== undefined) closed.add(current);
      current = name;
    }
    let family = families.get(name);
    if (!family) {
      family = { samples: [] };
      families.set(name, family);
    }
    return family;
  };
  /** The family a sample belongs to: its name less a suffix its family's type allows. */
  const familyOf = (name: string) => {
    for (const candidate of [current, ...families.keys()]) {
      if (candidate === undefined) continue;
      const type = families.get(candidate)?.type ?? 'untyped';
      if (SUFFIXES[type].some((suffix) => `${candidate}${suffix}` === name)) return candidate;
    }
    return name;
  };
  text.split('\n').forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!match) return; // a plain comment
      const [, keyword, name = '', rest = ''] = match;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name "${name}"`);
      const family = open(name, where);
      if (keyword === 'HELP') {
        if (family.help !== undefined) throw new Error(`${where}: a second HELP for ${name}`);
        family.help = rest.replace(/\\(.)/g, (_, char: string) => (char === 'n' ? '\n' : char));
      } else {
        if (family.type !== undefined) throw new Error(`${where}: a second TYPE for ${name}`);
        if (family.samples.length > 0) throw new Error(`${where}: the TYPE of ${name} after its samples`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type "${rest}"`);
        family.type = rest as MetricFamily['type'];
      }
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`${where}: not a sample: ${line}`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name "${name}"`);
    let labels: Record<string, string> = {};
    let rest = line.slice(nameEnd);
    if (rest.startsWith('{')) {
      const parsed = parseLabels(line, nameEnd, where);
      labels = parsed.labels;
      rest = line.slice(parsed.end);
    }
    const fields = rest.split(' ');
    if (fields[0] !== '' || fields.length < 2 || fields.length > 3) {
      throw new Error(`${where}: expected " value" or " value timestamp" after the name and labels`);
    }
    const value = parseValue(fields[1] ?? '', where);
    if (fields[2] !== undefined && !/^-?\d+$/.test(fields[2])) throw new Error(`${where}: bad timestamp`);
    const familyName = familyOf(name);
    const family = open(familyName, where);
    const key = seriesKey(name, labels);
    if (series.has(key)) throw new Error(`${where}: the series ${name}${JSON.stringify(labels)} twice`);
    series.add(key);
    if ((family.type === 'counter' || name.endsWith('_count')) && !(value >= 0)) {
      throw new Error(`${where}: ${name} is a count and cannot be ${value}`);
    }
    family.samples.push({ name, labels, value });
  });
  const parsed = [...families].map(([name, family]) => ({
    name,
    type: family.type ?? 'untyped',
    help: family.help ?? '',
    samples: family.samples,
  }));
  for (const family of parsed) if (family.type === 'histogram') histogramSeries(family);
  return parsed;
}

/** The family of that name; throws naming the families there are when it is missing. */
export function family(families: readonly MetricFamily[], name: string): MetricFamily {
  const found = families.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no metric ${name}; there are: ${families.map((f) => f.name).join(', ')}`);
  return found;
}

/** Whether every one of `wanted` is among `labels`. */
export const hasLabels = (
  labels: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string>>,
): boolean => Object.entries(wanted).every(([name, value]) => labels[name] === value);

/** Why promtool cannot run here, or undefined when it can. */
export function promtoolMissing(): string | undefined {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.error) return `promtool is not installed (${probe.error.message}); apt-get install prometheus`;
  return probe.status === 0 ? undefined : `promtool --version exited ${probe.status}`;
}

/**
 * promtool's verdict on an exposition: its exit status (0 clean, 1 unparsable, 3 lint problems)
 * and the problems it printed, one a line.
 */
export function promtoolCheck(text: string): { status: number | null; problems: string[] } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const problems = `${run.stdout}${run.stderr}`.split('\n').filter((line) => line.trim() !== '');
  return { status: run.status, problems };
}
