import { randomBase64url } from '../random.js';

/** An opaque, URL-safe, unguessable id: 128 random bits in base64url (22 characters). */
export function newId(): string {
  return randomBase64url(16);
}

/** The 64 characters of base64url in ASCII order: a number written with them sorts as text as it does as a number. */
const SORTED_DIGITS = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
/** Characters of the time: 42 bits of milliseconds since 1970, enough until the year 2109. */
const TIME_DIGITS = 7;
/** The millisecond the kept prefix was written for, and the prefix. */
let prefixAt = Number.NaN;
let prefix = '';

/**
 * An id of newId's shape (22 base64url characters, unguessable: 90 random bits) whose first 7
 * characters are the time it was made, in milliseconds, written so that ids made later sort after
 * as text (the first character moves every 2.2 years, 'O' in 2026: never '-'). For rows that are keyed by
 * their id in a B-tree (a UNIQUE index): random ids put each new row's key on a page of its own, a
 * random leaf of the index, and every such page is written to the WAL again at each write group's
 * COMMIT and then copied back by the checkpoint; ids in time order put a group's new keys side by
 * side on one or two pages. A create wrote ~6.4 pages' worth of pwrite() with random ids for the
 * connector and its audit event, ~3 with these (docs/benchmarks.md). A clock set back only puts a
 * few ids out of order; uniqueness is the random part's.
 */
export function newTimeOrderedId(now: number = Date.now()): string {
  if (now !== prefixAt) {
    let rest = Math.max(0, Math.floor(now));
    let text = '';
    for (let i = 0; i < TIME_DIGITS; i++) {
      text = SORTED_DIGITS[rest % 64] + text;
      rest = Math.floor(rest / 64);
    }
    prefixAt = now;
    prefix = text;
  }
  // 12 random bytes are 16 characters; the first 15 carry 90 bits.
  return prefix + randomBase64url(12).slice(0, 22 - TIME_DIGITS);
}

/** The millisecond whose ISO text is kept, and the text. */
let isoAt = Number.NaN;
let iso = '';
/** The second whose ISO text up to its milliseconds (`2026-12-05T07:45:12.`) is kept, and the text. */
let secondAt = Number.NaN;
let secondText = '';
/** Past this (the year 10000), toISOString writes six-digit years: made whole then. */
const LAST_FOUR_DIGIT_YEAR_MS = 253_402_300_800_000;

/**
 * A moment as ISO text, the last one made kept: a write takes it two or three times (the row's
 * times, its audit event's), and writes of one turn mostly share their millisecond; a Date and its
 * toISOString were ~1 % of a create's CPU. Another millisecond of the same second reuses the
 * second's text (a delivery attempt's start: ~2-3 µs for a Date and its toISOString, ~0.1 for this).
 */
export function isoOf(ms: number): string {
  if (ms === isoAt) return iso;
  if (!Number.isInteger(ms) || ms < 0 || ms >= LAST_FOUR_DIGIT_YEAR_MS) {
    iso = new Date(ms).toISOString();
  } else {
    const millis = ms % 1000;
    const second = ms - millis;
    if (second !== secondAt) {
      secondText = new Date(second).toISOString().slice(0, 20);
      secondAt = second;
    }
    iso = `${secondText}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  }
  isoAt = ms;
  return iso;
}

/** Now, in the one timestamp format the API uses: ISO 8601, UTC, milliseconds. */
export function nowIso(): string {
  return isoOf(Date.now());
}

/** A timestamp strictly after `previous`, so that `updatedAt` always moves on an update. */
export function laterThan(previous: string): string {
  const now = Date.now();
  const floor = Date.parse(previous) + 1;
  return isoOf(Number.isNaN(floor) ? now : Math.max(now, floor));
}
