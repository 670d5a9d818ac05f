// Share helpers for the owner app: status, request bodies and URLs. Pure, no DOM.
import { parseTime } from './format.js';

/** Expiry presets offered when creating a share (seconds; 0 = never). */
export const EXPIRY_PRESETS = Object.freeze([
  { label: '7 days', seconds: 7 * 86400 },
  { label: '30 days', seconds: 30 * 86400 },
  { label: '90 days', seconds: 90 * 86400 },
  { label: 'Never', seconds: 0 },
]);

/** Download modes a share may allow. */
export const DOWNLOAD_MODES = Object.freeze([
  { value: 'none', label: 'No downloads' },
  { value: 'preview', label: 'Previews (web size)' },
  { value: 'original', label: 'Originals' },
]);

/**
 * The live state of a share at time now.
 * @param {{revoked_at?: string|null, expires_at?: string|null, max_views?: number|null, views?: number}} s
 * @param {number} [now]
 * @returns {'revoked'|'expired'|'exhausted'|'active'}
 */
export function shareStatus(s, now = Date.now()) {
  if (s.revoked_at) return 'revoked';
  const exp = parseTime(s.expires_at);
  if (exp && exp.getTime() <= now) return 'expired';
  if (s.max_views && (s.views || 0) >= s.max_views) return 'exhausted';
  return 'active';
}

/** Human labels for shareStatus values. */
export const STATUS_LABEL = Object.freeze({
  active: 'Active',
  revoked: 'Revoked',
  expired: 'Expired',
  exhausted: 'View limit reached',
});

/**
 * Builds the POST /api/shares body from form values. Empty optional fields
 * are left out so the server's defaults apply.
 * The message goes only with an address to send the link to. With mail:
 * false (the server has no SMTP) nothing that needs email is asked for.
 * @param {string} albumId
 * @param {{label?: string, expiresIn?: number|string, maxViews?: number|string, password?: string,
 *   download?: string, stripLocation?: boolean, watermark?: string, mediaIds?: string[],
 *   selectionLimit?: number|string, notifyFirstView?: boolean, sendTo?: string, message?: string,
 *   mail?: boolean}} v
 */
export function shareRequest(albumId, v) {
  const body = { album_id: albumId, download: v.download || 'preview', strip_location: v.stripLocation !== false };
  if (v.label && v.label.trim()) body.label = v.label.trim();
  const exp = Number(v.expiresIn || 0);
  if (exp > 0) body.expires_in_seconds = exp;
  const mv = Number(v.maxViews || 0);
  if (Number.isInteger(mv) && mv > 0) body.max_views = mv;
  if (v.password) body.password = v.password;
  if (v.watermark && v.watermark.trim()) body.watermark = v.watermark.trim();
  if (v.mediaIds && v.mediaIds.length) body.media_ids = v.mediaIds;
  const sl = Number(v.selectionLimit || 0);
  if (Number.isInteger(sl) && sl > 0) body.selection_limit = sl;
  if (v.mail === false) return body;
  if (v.notifyFirstView === true) body.notify_first_view = true;
  const to = typeof v.sendTo === 'string' ? v.sendTo.trim() : '';
  if (to) {
    body.send_to = to;
    const msg = typeof v.message === 'string' ? v.message.trim() : '';
    if (msg) body.message = msg;
  }
  return body;
}

/** Shown by the email fields when the server cannot send email. */
export const MAIL_OFF_HINT = Object.freeze({
  sendTo: 'Email is not set up on this server (PHOTOVAULT_SMTP_HOST) — copy the link instead.',
  notify: 'Email is not set up on this server (PHOTOVAULT_SMTP_HOST), so no first-view notice can be sent.',
});

/**
 * Whether the server can send email, from GET /api/instance. Only an answer
 * that says mail: false turns the email fields off; no answer (an older
 * server, a network error) keeps them on, and the server still refuses
 * clearly (409 mail_not_configured).
 * @param {{mail?: unknown}|null|undefined} instance
 */
export function mailAvailable(instance) {
  return !(instance && typeof instance === 'object' && instance.mail === false);
}

/**
 * What to tell the owner about the invitation email after a share was
 * created, or null when no email was asked for. A missing invite_sent counts
 * as not sent: the owner must then pass the link on by hand.
 * @param {{invite_sent?: boolean}} created POST /api/shares answer
 * @param {string} [sendTo] the address the link was to be emailed to
 * @returns {{sent: boolean, text: string}|null}
 */
export function inviteOutcome(created, sendTo) {
  const to = typeof sendTo === 'string' ? sendTo.trim() : '';
  if (!to) return null;
  if (created && created.invite_sent === true) return { sent: true, text: `Emailed to ${to}.` };
  return { sent: false, text: 'The email could not be sent — copy the link and send it yourself.' };
}

/**
 * The absolute link to give the client, from the create-share answer.
 * @param {{url?: string, token?: string}} created
 * @param {string} origin location.origin
 */
export function shareLink(created, origin) {
  if (created.url) {
    try { return new URL(created.url, origin).href; } catch { /* fall through */ }
  }
  if (created.token) return `${origin}/s/${encodeURIComponent(created.token)}`;
  return '';
}

/**
 * Heights (0–100, percent of the busiest day) for the daily analytics bars.
 * @param {Array<{date: string, views?: number, downloads?: number}>} daily
 */
export function dailyBars(daily) {
  const days = Array.isArray(daily) ? daily : [];
  const max = Math.max(1, ...days.map((d) => Math.max(d.views || 0, d.downloads || 0)));
  return days.map((d) => ({
    date: d.date,
    views: d.views || 0,
    downloads: d.downloads || 0,
    viewsPct: Math.round(((d.views || 0) / max) * 100),
    downloadsPct: Math.round(((d.downloads || 0) / max) * 100),
  }));
}
