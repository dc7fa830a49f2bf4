/**
 * The throughput targets of `npm run bench` (issue 15) and their verdicts. Each case runs once per
 * round, after that round's ceiling (a bare node:http server answering a constant connector under
 * the same load); a case's figure is the median over the rounds of its req/s ÷ its round's
 * ceiling, so that a machine slowing down or speeding up between rounds moves both alike.
 */

/**
 * @import { CaseRow } from './measure.mjs'
 * @import { BackendTarget } from './report.mjs'
 */

/** Ratio of req/s to the same round's ceiling, at least. */
export const RATIO_TARGETS = [
  { backend: 'sqlite', case: 'GET one', min: 0.45 },
  { backend: 'sqlite', case: 'list 50', min: 0.08 },
  { backend: 'sqlite', case: 'create', min: 0.15 },
  { backend: 'sqlite', case: 'update', min: 0.12 },
  { backend: 'sqlite', case: 'mix 90/10', min: 0.3 },
  { backend: 'postgres', case: 'GET one', min: 0.2 },
  { backend: 'postgres', case: 'create', min: 0.05 },
];
/** Peak RSS (VmHWM) of the SQLite server in any case, below this many MB (10^6 bytes). */
export const PEAK_RSS_MB = 150;

/** @param {readonly number[]} values */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/**
 * One row per (backend, case): the run whose ratio is the median (so every figure in the row is
 * from one real run), with the ratios of every round listed.
 * @param {readonly CaseRow[]} runs every measured run, each with `round` and `ratioToCeiling`
 * @returns {(CaseRow & { rounds: number; roundRatios: number[] })[]}
 */
export function medianRows(runs) {
  /** @type {Map<string, CaseRow[]>} */
  const groups = new Map();
  for (const run of runs) {
    const key = `${run.backend}\u0000${run.case}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const measured = group.filter((r) => !r.error);
    const failed = group.find((r) => r.error);
    const ratios = measured.map((r) => r.ratioToCeiling ?? Number.NaN).sort((a, b) => a - b);
    // The lower middle run for an even count: a row of real figures, never an average of two.
    const middle = ratios[Math.floor((ratios.length - 1) / 2)];
    const row = measured.find((r) => r.ratioToCeiling === middle) ?? failed ?? group[0];
    return {
      .../** @type {CaseRow} */ (row),
      // Any run's non-2xx and errors count: a clean median must not hide a dirty round.
      non2xx: measured.reduce((sum, r) => sum + (r.non2xx ?? 0), 0),
      errors: measured.reduce((sum, r) => sum + (r.errors ?? 0), 0),
      timeouts: measured.reduce((sum, r) => sum + (r.timeouts ?? 0), 0),
      peakRssMiB: Math.max(...measured.map((r) => r.peakRssMiB ?? 0)),
      ...(failed && measured.length === 0 ? { error: failed.error } : {}),
      rounds: measured.length,
      roundRatios: measured.map((r) => r.ratioToCeiling ?? Number.NaN),
    };
  });
}

/**
 * The throughput verdicts: each ratio target, 0 non-2xx, peak RSS. A target whose case was not
 * run (left out by --cases or --backends, or its backend skipped) is listed as not measured.
 * @param {ReturnType<typeof medianRows>} rows
 * @param {readonly string[]} backends the backends that ran
 * @returns {BackendTarget[]}
 */
export function throughputTargets(rows, backends) {
  /** @type {BackendTarget[]} */
  const targets = [];
  for (const t of RATIO_TARGETS) {
    const row = rows.find((r) => r.backend === t.backend && r.case === t.case);
    const name = `${t.case}: req/s ≥ ${t.min} × the ceiling (median of rounds)`;
    if (!row || row.error) {
      targets.push({
        backend: t.backend,
        name,
        pass: false,
        notMeasured: !row,
        detail: row?.error
          ? `FAILED: ${row.error}`
          : `not measured${backends.includes(t.backend) ? ' (left out by --cases / --postgres-cases)' : ' (backend not run)'}`,
      });
      continue;
    }
    const ratio = median(row.roundRatios);
    targets.push({
      backend: t.backend,
      name,
      value: ratio,
      limit: t.min,
      pass: ratio >= t.min,
      disturbed: Boolean(row.disturbed),
      detail: `${ratio.toFixed(3)} (${fmtRatios(row.roundRatios)}; ${row.rps?.toFixed(0)} req/s in the median round)`,
    });
  }
  const measured = rows.filter((r) => !r.error && r.backend !== 'node:http');
  if (measured.length > 0) {
    const non2xx = measured.reduce(
      (sum, r) => sum + (r.non2xx ?? 0) + (r.errors ?? 0) + (r.timeouts ?? 0),
      0,
    );
    const dirty = measured.filter((r) => (r.non2xx ?? 0) + (r.errors ?? 0) + (r.timeouts ?? 0) > 0);
    targets.push({
      backend: 'all',
      name: 'no answer but 2xx (no non-2xx, connection error or timeout) in any case and round',
      value: non2xx,
      limit: 0,
      pass: non2xx === 0,
      detail:
        non2xx === 0
          ? `0 in ${measured.reduce((sum, r) => sum + r.rounds, 0)} runs`
          : `${non2xx}: ${dirty.map((r) => `${r.backend} ${r.case} ${r.non2xx} non-2xx, ${(r.errors ?? 0) + (r.timeouts ?? 0)} errors`).join('; ')}`,
    });
  }
  const sqlite = measured.filter((r) => r.backend === 'sqlite');
  if (sqlite.length > 0) {
    const peak = Math.max(...sqlite.map((r) => r.peakRssMiB ?? 0));
    const peakMb = (peak * 1024 * 1024) / 1e6;
    const worst = sqlite.find((r) => r.peakRssMiB === peak);
    targets.push({
      backend: 'sqlite',
      name: `peak RSS < ${PEAK_RSS_MB} MB in every case`,
      value: peakMb,
      limit: PEAK_RSS_MB,
      pass: peakMb < PEAK_RSS_MB,
      detail: `${peakMb.toFixed(0)} MB (${worst?.case})`,
    });
  }
  return targets;
}

/** @param {readonly number[]} ratios */
const fmtRatios = (ratios) => `rounds: ${ratios.map((r) => r.toFixed(3)).join(', ')}`;
