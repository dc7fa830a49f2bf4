/**
 * What the bench prints: a line per case as it is measured, the results table, and the verdicts
 * on the paging targets.
 */
import { QUIET_PERCENT } from './machine.mjs';

/**
 * @import { CaseRow } from './measure.mjs'
 * @import { PagingResult, Target } from './paging.mjs'
 */

/** A verdict with the backend it is about. @typedef {Partial<Target> & { backend: string; rows?: number; name: string; pass: boolean; detail: string; notMeasured?: boolean }} BackendTarget */

/**
 * @param {number | null | undefined} value
 * @param {number} digits
 */
export function fmt(value, digits) {
  return value === null || value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
}

/**
 * The line(s) of one measured case.
 * @param {(line: string) => void} log
 * @param {CaseRow} r
 */
export function caseLine(log, r) {
  log(
    `  ${r.backend.padEnd(8)} ${r.case.padEnd(12)} ${fmt(r.rps, 0).padStart(7)} req/s  p50 ${fmt(r.p50Ms, 2)} ms  p99 ${fmt(r.p99Ms, 2)} ms  non-2xx ${r.non2xx}  errors ${r.errors}  RSS ${fmt(r.peakRssMiB, 0)} MiB  CPU: server ${fmt(r.serverCpuPercent, 0)} %${r.databaseCpuPercent == null ? '' : `, PostgreSQL ${fmt(r.databaseCpuPercent, 0)} %`}, load ${fmt(r.loadCpuPercent, 0)} %, other ${fmt(r.otherCpuPercent, 0)} %`,
  );
  log(
    `      bound by: ${r.boundBy} (busy core 0 ${fmt(r.serverCoreBusyPercent, 0)} %, core 1 ${fmt(r.clientCoreBusyPercent, 0)} %); ${fmt(r.cpuMicrosPerRequest, 0)} µs CPU per request`,
  );
  for (const sample of r.nonOkSamples ?? []) log(`      non-2xx sample: ${sample.status} ${sample.body}`);
  if (r.poolExhausted)
    log('      the delete pool ran out before the duration: measured over the shorter time');
}

/**
 * @template R
 * @param {readonly R[]} rows
 * @param {{ title: string; left?: boolean; get: (row: R) => string }[]} columns
 */
function table(rows, columns) {
  const cells = rows.map((row) => columns.map((c) => c.get(row)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => (r[i] ?? '').length)));
  /** @param {string[]} values */
  const line = (values) =>
    values
      .map((v, i) => (columns[i]?.left ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0)))
      .join('  ');
  return [
    line(columns.map((c) => c.title)),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...cells.map(line),
  ].join('\n');
}

/**
 * The results table with its legend.
 * @param {readonly CaseRow[]} rows
 * @param {number} rounds
 */
export function resultsTable(rows, rounds) {
  return [
    rounds > 1
      ? `Each row is the run with the median ratio to its round's ceiling of ${rounds} rounds (non-2xx and errors: all rounds; peak RSS: the highest).`
      : 'One round.',
    table(rows, [
      { title: 'case', left: true, get: (r) => r.case },
      { title: 'backend', left: true, get: (r) => r.backend },
      { title: 'req/s', get: (r) => (r.error ? 'FAILED' : fmt(r.rps, 0)) },
      { title: 'p50 ms', get: (r) => fmt(r.p50Ms, 2) },
      { title: 'p99 ms', get: (r) => fmt(r.p99Ms, 2) },
      { title: 'non-2xx', get: (r) => String(r.non2xx ?? 'n/a') },
      { title: 'errors', get: (r) => String(r.errors === undefined ? 'n/a' : r.errors + (r.timeouts ?? 0)) },
      { title: 'peak RSS MiB', get: (r) => fmt(r.peakRssMiB, 0) },
      {
        title: 'vs ceiling',
        get: (r) => (r.ratioToCeiling == null ? 'n/a' : r.ratioToCeiling.toFixed(3)),
      },
      { title: 'CPU µs/req', get: (r) => fmt(r.cpuMicrosPerRequest, 0) },
      {
        title: 'vs ceiling by CPU',
        get: (r) => (r.ratioToCeilingByCpu == null ? 'n/a' : r.ratioToCeilingByCpu.toFixed(3)),
      },
      {
        title: 'busy core 0/1 %',
        get: (r) =>
          r.serverCoreBusyPercent == null
            ? 'n/a'
            : `${fmt(r.serverCoreBusyPercent, 0)}/${fmt(r.clientCoreBusyPercent, 0)}`,
      },
      { title: 'other CPU %', get: (r) => fmt(r.otherCpuPercent, 0) },
    ]),
    [
      '(peak RSS: VmHWM of the server process over its start, warm-up and case, MiB. errors: connection errors and timeouts.',
      ' vs ceiling: req/s ÷ the bare node:http req/s. CPU µs/req: CPU time of the server process (and of PostgreSQL',
      " serving the bench database) per response; vs ceiling by CPU: the bare server's CPU µs/req ÷ the case's, the ratio",
      " if both were CPU-bound. busy core 0/1: the server's and the load generator's core, all processes and interrupts.",
      ' other CPU %: processes not part of the bench (other users of the machine), in % of one core.)',
    ].join('\n'),
  ].join('\n');
}

/**
 * Every paging verdict, a failed measurement as a failed verdict.
 * @param {readonly (PagingResult | { backend: string; rows: number; error: string })[]} paging
 * @returns {BackendTarget[]}
 */
export function pagingTargets(paging) {
  /** @type {BackendTarget[]} */
  const targets = [];
  for (const p of paging) {
    if ('error' in p) {
      targets.push({
        backend: p.backend,
        name: 'paging measurements',
        pass: false,
        detail: `FAILED: ${p.error}`,
      });
      continue;
    }
    for (const t of p.targets) targets.push({ backend: p.backend, rows: p.rows, ...t });
  }
  return targets;
}

/**
 * The verdicts, a line each: misses first, then passes; not measured ones last.
 * @param {(line: string) => void} log
 * @param {readonly BackendTarget[]} targets
 * @param {number} pagingRows
 */
export function printTargets(log, targets, pagingRows) {
  if (targets.length === 0) return;
  log('');
  const scaled = pagingRows !== 1_000_000 ? ` (paging measured on ${pagingRows} rows, not 1,000,000)` : '';
  const failed = targets.filter((t) => !t.pass).length;
  log(`targets: ${targets.length - failed} PASS, ${failed} FAIL${scaled}`);
  for (const t of targets) {
    log(
      `  ${verdict(t)}  ${t.backend.padEnd(8)} ${t.name}: ${t.detail}${t.disturbed ? ` [disturbed: other processes used ≥ ${QUIET_PERCENT} % of a core meanwhile]` : ''}`,
    );
  }
}

/** @param {BackendTarget} t */
const verdict = (t) => (t.pass ? 'PASS' : t.notMeasured ? 'FAIL (not measured)' : 'FAIL');

/**
 * The results and verdicts as Markdown, for the README's benchmark section.
 * @param {{ date: string; commit: string; rows: readonly CaseRow[]; targets: readonly BackendTarget[]; rounds: number }} run
 */
export function markdownReport({ date, commit, rows, targets, rounds }) {
  const lines = [
    `Run of ${date} on commit ${commit}, ${rounds} round(s), medians:`,
    '',
    '| case | backend | req/s | p50 ms | p99 ms | non-2xx | peak RSS MiB | vs ceiling |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.case} | ${r.backend} | ${r.error ? 'FAILED' : fmt(r.rps, 0)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${r.non2xx ?? 'n/a'} | ${fmt(r.peakRssMiB, 0)} | ${r.ratioToCeiling == null ? 'n/a' : r.ratioToCeiling.toFixed(3)} |`,
    );
  }
  lines.push('', '| target | backend | measured | verdict |', '| --- | --- | --- | --- |');
  const ordered = [...targets.filter((t) => !t.pass), ...targets.filter((t) => t.pass)];
  for (const t of ordered) {
    lines.push(
      `| ${t.name} | ${t.backend} | ${t.detail.replaceAll('|', '\\|')} | ${t.pass ? 'PASS' : '**FAIL**'} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
