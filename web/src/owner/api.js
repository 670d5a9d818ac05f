// Owner API client for the browser: HttpOnly cookie sessions plus the
// double-submit CSRF header. Tokens are never kept in JS-readable storage
// (an XSS could steal them); the only readable cookie is pv_csrf.
import { apiError, ApiError, parseJSON } from '../lib/http.js';
import { retryAfterSeconds } from '../lib/format.js';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const CSRF_COOKIES = ['pv_csrf', '__Host-pv_csrf'];

/**
 * Reads a cookie value by name from a cookie string ('' when absent).
 * @param {string} cookieString document.cookie
 * @param {string} name
 */
export function readCookie(cookieString, name) {
  for (const part of (cookieString || '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) {
      try { return decodeURIComponent(part.slice(i + 1).trim()); } catch { return part.slice(i + 1).trim(); }
    }
  }
  return '';
}

/** Talks to /api as the signed-in owner. */
export class OwnerAPI {
  /**
   * @param {{fetch?: typeof fetch, cookies?: () => string, onSignedOut?: () => void}} [opts]
   */
  constructor(opts = {}) {
    this.fetch = opts.fetch || globalThis.fetch.bind(globalThis);
    this.cookies = opts.cookies || (() => document.cookie);
    this.onSignedOut = opts.onSignedOut || (() => {});
    /** @type {Promise<boolean>|null} */
    this.refreshing = null;
    /** @type {Promise<any>|null} the cached GET /api/instance answer */
    this.instanceInfo = null;
  }

  /** The CSRF token the server set in the readable pv_csrf cookie. */
  csrf() {
    const c = this.cookies();
    for (const name of CSRF_COOKIES) {
      const v = readCookie(c, name);
      if (v) return v;
    }
    return '';
  }

  /**
   * Headers for a request of this method: CSRF proof on unsafe methods.
   * @param {string} method
   */
  headers(method) {
    const h = { Accept: 'application/json' };
    if (UNSAFE.has(method)) {
      const t = this.csrf();
      if (t) h['X-CSRF-Token'] = t;
    }
    return h;
  }

  /**
   * Sends one request and parses the JSON answer. On 401 it tries one token
   * refresh and repeats the request; if that fails the owner is signed out.
   * @param {string} method
   * @param {string} path
   * @param {any} [body] JSON-encoded when present
   * @param {{retry?: boolean, cookieMode?: boolean}} [opt]
   */
  async request(method, path, body, opt = {}) {
    const headers = this.headers(method);
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (opt.cookieMode) headers['X-PhotoVault-Cookie'] = '1';
    let res;
    try {
      res = await this.fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      throw apiError(0, null);
    }
    if (res.status === 401 && opt.retry !== false) {
      if (await this.refresh()) return this.request(method, path, body, { ...opt, retry: false });
      this.onSignedOut();
    }
    const data = res.status === 204 ? null : parseJSON(await res.text());
    if (!res.ok) throw apiError(res.status, data, res.status === 429 ? retryAfterSeconds(res.headers.get('Retry-After')) : undefined);
    return data;
  }

  /**
   * Refreshes the cookie session once; concurrent callers share the attempt
   * (a spent refresh token presented twice would revoke the whole family).
   * @returns {Promise<boolean>} true when the session was renewed
   */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.request('POST', '/api/auth/refresh', {}, { retry: false, cookieMode: true })
        .then(() => true, () => false)
        .finally(() => { setTimeout(() => { this.refreshing = null; }, 0); });
    }
    return this.refreshing;
  }

  /** GET /api/auth/setup → {setup_required}. */
  setupStatus() { return this.request('GET', '/api/auth/setup', undefined, { retry: false }); }

  /**
   * First-run owner creation.
   * @param {string} setupToken
   * @param {string} username
   * @param {string} password
   */
  setup(setupToken, username, password) {
    return this.request('POST', '/api/auth/setup', { setup_token: setupToken, username, password }, { retry: false });
  }

  /**
   * Signs in; the server answers with HttpOnly cookies (cookie mode).
   * @param {string} username
   * @param {string} password
   */
  async login(username, password) {
    await this.request('POST', '/api/auth/login', { username, password }, { retry: false, cookieMode: true });
  }

  /** Signs out and revokes the session's refresh family. */
  async logout() {
    try {
      await this.request('POST', '/api/auth/logout', {}, { retry: false, cookieMode: true });
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
    }
  }

  /** The signed-in owner: {id, username, created_at}. */
  me() { return this.request('GET', '/api/auth/me'); }

  /**
   * What this server offers: {version, mail, public_url}. Asked once and
   * kept; a failed request resolves to null (callers keep their defaults)
   * and is asked again next time.
   * @returns {Promise<{version?: string, mail?: boolean, public_url?: string}|null>}
   */
  instance() {
    if (!this.instanceInfo) {
      this.instanceInfo = this.request('GET', '/api/instance').catch(() => {
        this.instanceInfo = null;
        return null;
      });
    }
    return this.instanceInfo;
  }

  /** Lists the owner's albums. */
  async albums() { return (await this.request('GET', '/api/albums')).items || []; }

  /** @param {string} id */
  album(id) { return this.request('GET', `/api/albums/${encodeURIComponent(id)}`); }

  /** @param {{title: string, description?: string}} a */
  createAlbum(a) { return this.request('POST', '/api/albums', a); }

  /** @param {string} id @param {{title?: string, description?: string}} patch */
  updateAlbum(id, patch) { return this.request('PATCH', `/api/albums/${encodeURIComponent(id)}`, patch); }

  /** @param {string} id */
  deleteAlbum(id) { return this.request('DELETE', `/api/albums/${encodeURIComponent(id)}`); }

  /** @param {string} id */
  media(id) { return this.request('GET', `/api/media/${encodeURIComponent(id)}`); }

  /** @param {string} id */
  deleteMedia(id) { return this.request('DELETE', `/api/media/${encodeURIComponent(id)}`); }

  /**
   * Which of these SHA-256 digests (hex) the owner already has.
   * @param {string[]} hashes
   * @returns {Promise<Set<string>>}
   */
  async lookup(hashes) {
    if (!hashes.length) return new Set();
    const r = await this.request('POST', '/api/media/lookup', { sha256: hashes });
    return new Set((r && r.known) || []);
  }

  /** Lists all of the owner's shares (never with tokens). */
  async shares() { return (await this.request('GET', '/api/shares')).items || []; }

  /** @param {object} body POST /api/shares body */
  createShare(body) { return this.request('POST', '/api/shares', body); }

  /** @param {string} id */
  revokeShare(id) { return this.request('DELETE', `/api/shares/${encodeURIComponent(id)}`); }

  /** @param {string} id */
  analytics(id) { return this.request('GET', `/api/shares/${encodeURIComponent(id)}/analytics`); }

  /** @param {string} id */
  async selections(id) { return (await this.request('GET', `/api/shares/${encodeURIComponent(id)}/selections`)).items || []; }
}

/** Paths of owner thumbnails and downloads. */
export const mediaURL = {
  /** @param {string} id */
  thumb: (id) => `/api/media/${encodeURIComponent(id)}/thumb`,
  /** @param {string} id */
  preview: (id) => `/api/media/${encodeURIComponent(id)}/preview`,
  /** @param {string} id */
  original: (id) => `/api/media/${encodeURIComponent(id)}/original`,
  /** @param {string} id */
  selectionsCSV: (id) => `/api/shares/${encodeURIComponent(id)}/selections.csv`,
};
