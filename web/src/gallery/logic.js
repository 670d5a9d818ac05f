// Client gallery logic that needs no DOM: token parsing, favourites storage
// and their limit, preview sizes, download choice. Unit-tested in node.

/** Share tokens are URL-safe base64: anything else is not a token. */
const TOKEN_RE = /^[A-Za-z0-9_-]{16,256}$/;

/**
 * The share token from a /s/{token} path, or '' when the path holds none.
 * @param {string} pathname location.pathname
 */
export function tokenFromPath(pathname) {
  const m = /^\/s\/([^/]+)\/?$/.exec(pathname || '');
  if (!m) return '';
  let t;
  try { t = decodeURIComponent(m[1]); } catch { return ''; }
  return TOKEN_RE.test(t) ? t : '';
}

/**
 * A short, stable, non-reversible-at-a-glance key for per-link browser
 * storage, so the token itself is not written into localStorage (FNV-1a, 2×32 bit).
 * @param {string} token
 */
export function storageKey(token) {
  let a = 0x811c9dc5; let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
    b ^= b >>> 13;
  }
  return a.toString(36) + b.toString(36);
}

/** A client's favourite photos for one link, kept in localStorage. */
export class Favourites {
  /**
   * @param {Storage|null} storage localStorage (null: kept in memory only)
   * @param {string} token
   */
  constructor(storage, token) {
    this.storage = storage;
    this.key = `pv_fav_${storageKey(token)}`;
    /** @type {Set<string>} */
    this.ids = new Set();
    try {
      const raw = storage && storage.getItem(this.key);
      const arr = raw ? JSON.parse(raw) : [];
      if (Array.isArray(arr)) for (const id of arr) if (typeof id === 'string') this.ids.add(id);
    } catch { /* corrupt or blocked storage: start empty */ }
  }

  /** @param {string} id */
  has(id) { return this.ids.has(id); }

  /**
   * Whether id may become (or already is) a favourite under limit: removing
   * is always allowed, adding only below the limit.
   * @param {string} id
   * @param {number} limit from selectionLimit (0: no limit)
   */
  canAdd(id, limit) { return this.ids.has(id) || !limit || this.ids.size < limit; }

  /** Flips id and returns whether it is now a favourite. @param {string} id */
  toggle(id) {
    if (this.ids.has(id)) this.ids.delete(id); else this.ids.add(id);
    this.save();
    return this.ids.has(id);
  }

  /** Drops ids no longer in the share (photos removed by the photographer). @param {Set<string>|string[]} valid */
  retain(valid) {
    const v = valid instanceof Set ? valid : new Set(valid);
    let changed = false;
    for (const id of [...this.ids]) if (!v.has(id)) { this.ids.delete(id); changed = true; }
    if (changed) this.save();
  }

  /** Favourites in the order of items. @param {Array<{id: string}>} items */
  ordered(items) { return items.filter((it) => this.ids.has(it.id)).map((it) => it.id); }

  get size() { return this.ids.size; }

  clear() { this.ids.clear(); this.save(); }

  save() {
    try { if (this.storage) this.storage.setItem(this.key, JSON.stringify([...this.ids])); } catch { /* quota or private mode */ }
  }
}

/**
 * Size of the preview variant for an original of w×h (previews fit maxSide).
 * Unknown sizes fall back to 3:2.
 * @param {number} w
 * @param {number} h
 * @param {number} [maxSide]
 */
export function previewSize(w, h, maxSide = 2048) {
  if (!(w > 0 && h > 0)) return { width: 1536, height: 1024 };
  const s = Math.min(1, maxSide / Math.max(w, h));
  return { width: Math.round(w * s), height: Math.round(h * s) };
}

/**
 * Aspect ratio used to lay a tile out; clamped so a panorama or a sliver
 * cannot wreck a row.
 * @param {number} w
 * @param {number} h
 */
export function tileRatio(w, h) {
  if (!(w > 0 && h > 0)) return 1.5;
  return Math.min(4, Math.max(0.4, w / h));
}

/**
 * The URL a client may download for an item, or '' when downloads are off.
 * @param {{original_url?: string, preview_url?: string}} item
 * @param {string} mode share download mode
 */
export function downloadURL(item, mode) {
  if (item.original_url) return item.original_url;
  if (mode === 'preview' && item.preview_url) return item.preview_url;
  return '';
}

/**
 * The share's selection_limit as a count: a positive integer, or 0 for no
 * limit (null, absent or nonsense).
 * @param {unknown} v
 */
export function selectionLimit(v) {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : 0;
}

/**
 * How many favourites there are, against the limit: "3 favourites",
 * "3 of 10 favourites".
 * @param {number} count
 * @param {number} limit from selectionLimit (0: no limit)
 */
export function favouritesLabel(count, limit) {
  if (!limit) return `${count} ${count === 1 ? 'favourite' : 'favourites'}`;
  return `${count} of ${limit} ${limit === 1 ? 'favourite' : 'favourites'}`;
}

/**
 * What the client is told at the limit: why another favourite was refused
 * (count ≤ limit), or, with more favourites than the limit (kept from before
 * the photographer lowered it), how many to remove before sending.
 * @param {number} count
 * @param {number} limit from selectionLimit (> 0)
 */
export function limitMessage(count, limit) {
  const up = `You can pick up to ${limit} ${limit === 1 ? 'photo' : 'photos'}`;
  if (count <= limit) return `${up} — remove one to add another.`;
  const over = count - limit;
  return `${up} — remove ${over === 1 ? 'one' : over} to send your selection.`;
}

/** Whether count favourites exceed the limit (0: no limit). @param {number} count @param {number} limit */
export function overLimit(count, limit) {
  return limit > 0 && count > limit;
}

/**
 * Validates the "send my selection" form; returns an error message or ''.
 * @param {{name: string, email: string}} v
 * @param {number} count number of favourites
 * @param {number} [limit] from selectionLimit (0: no limit)
 */
export function selectionError(v, count, limit = 0) {
  if (!count) return 'Mark at least one photo with the heart first.';
  if (overLimit(count, limit)) return limitMessage(count, limit);
  if (!v.name || !v.name.trim()) return 'Please enter your name.';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test((v.email || '').trim())) return 'Please enter a valid email address.';
  return '';
}
