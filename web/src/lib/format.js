// Pure formatting helpers (no DOM), shared by both apps and unit-tested in node.

/**
 * Formats a byte count for people: 1536 → "1.5 KB".
 * @param {number} n
 */
export function formatBytes(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/**
 * Formats an RFC 3339 timestamp as a local date ("27 Nov 2026"); '' when absent or invalid.
 * @param {string|null|undefined} ts
 */
export function formatDate(ts) {
  const d = parseTime(ts);
  if (!d) return '';
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

/**
 * Formats an RFC 3339 timestamp as local date and time; '' when absent or invalid.
 * @param {string|null|undefined} ts
 */
export function formatDateTime(ts) {
  const d = parseTime(ts);
  if (!d) return '';
  return d.toLocaleString(undefined, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/**
 * Parses an RFC 3339 timestamp; null when absent or invalid.
 * @param {string|null|undefined} ts
 * @returns {Date|null}
 */
export function parseTime(ts) {
  if (!ts) return null;
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? null : d;
}

/**
 * Reads a Retry-After header (delta seconds or HTTP date) as whole seconds ≥ 1.
 * Unknown or missing values give the fallback.
 * @param {string|null} header
 * @param {number} [now] ms since epoch
 * @param {number} [fallback]
 */
export function retryAfterSeconds(header, now = Date.now(), fallback = 30) {
  if (!header) return fallback;
  const s = header.trim();
  if (/^\d+$/.test(s)) return Math.max(1, parseInt(s, 10));
  const at = Date.parse(s);
  if (Number.isNaN(at)) return fallback;
  return Math.max(1, Math.ceil((at - now) / 1000));
}

/**
 * Pluralises a count: plural(1, 'photo') → "1 photo", plural(3, 'photo') → "3 photos".
 * @param {number} n
 * @param {string} one
 * @param {string} [many]
 */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Describes how long until ts from now: "in 3 days", "in 5 hours", "expired".
 * @param {string|null|undefined} ts
 * @param {number} [now]
 */
export function until(ts, now = Date.now()) {
  const d = parseTime(ts);
  if (!d) return '';
  const s = (d.getTime() - now) / 1000;
  if (s <= 0) return 'expired';
  if (s < 3600) return `in ${plural(Math.max(1, Math.round(s / 60)), 'minute')}`;
  if (s < 86400 * 2) return `in ${plural(Math.round(s / 3600), 'hour')}`;
  return `in ${plural(Math.round(s / 86400), 'day')}`;
}
