// Unit tests for the DOM-free modules. Run with `npm test` (node --test).
import test from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, retryAfterSeconds, plural, until, parseTime } from '../src/lib/format.js';
import { apiError, uploadErrorMessage, parseJSON, ApiError } from '../src/lib/http.js';
import { shareStatus, shareRequest, shareLink, inviteOutcome, dailyBars, mailAvailable, MAIL_OFF_HINT, EXPIRY_PRESETS } from '../src/lib/share.js';
import {
  tokenFromPath, storageKey, Favourites, previewSize, tileRatio, downloadURL, selectionError,
  selectionLimit, favouritesLabel, limitMessage, overLimit,
} from '../src/gallery/logic.js';

test('formatBytes', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(25 * 1024 * 1024), '25 MB');
  assert.equal(formatBytes(-1), '');
});

test('retryAfterSeconds reads seconds and HTTP dates', () => {
  assert.equal(retryAfterSeconds('42'), 42);
  assert.equal(retryAfterSeconds('0'), 1);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(retryAfterSeconds('Thu, 01 Jan 2026 00:01:00 GMT', now), 60);
  assert.equal(retryAfterSeconds(null), 30);
  assert.equal(retryAfterSeconds('soon', now, 7), 7);
});

test('plural and until', () => {
  assert.equal(plural(1, 'photo'), '1 photo');
  assert.equal(plural(2, 'photo'), '2 photos');
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(until('2026-01-08T00:00:00Z', now), 'in 7 days');
  assert.equal(until('2025-12-31T00:00:00Z', now), 'expired');
  assert.equal(until('', now), '');
  assert.equal(parseTime('not a date'), null);
});

test('apiError prefers the server message and keeps the code', () => {
  const e = apiError(400, { error: 'weak_password', message: 'too short' });
  assert.ok(e instanceof ApiError);
  assert.equal(e.code, 'weak_password');
  assert.equal(e.message, 'too short');
  assert.equal(apiError(410, null).message, 'This link has expired or was revoked.');
  assert.equal(apiError(429, null, 12).retryAfter, 12);
  assert.match(apiError(599, 'junk').message, /599/);
});

test('upload errors name the contract statuses', () => {
  assert.match(uploadErrorMessage(413, null), /too large/i);
  assert.match(uploadErrorMessage(415, { message: 'x' }), /not a photo/i);
  assert.match(uploadErrorMessage(422, null), /too many pixels/i);
  assert.equal(uploadErrorMessage(409, { message: 'conflict here' }), 'conflict here');
  assert.equal(parseJSON('{'), null);
});

test('shareStatus', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  assert.equal(shareStatus({ views: 0 }, now), 'active');
  assert.equal(shareStatus({ revoked_at: '2026-05-01T00:00:00Z', expires_at: '2027-01-01T00:00:00Z' }, now), 'revoked');
  assert.equal(shareStatus({ expires_at: '2026-05-31T23:59:59Z' }, now), 'expired');
  assert.equal(shareStatus({ max_views: 5, views: 5 }, now), 'exhausted');
  assert.equal(shareStatus({ max_views: 5, views: 4 }, now), 'active');
});

test('shareRequest leaves empty options out and keeps strip_location on by default', () => {
  assert.deepEqual(shareRequest('a1', { download: 'none' }), { album_id: 'a1', download: 'none', strip_location: true });
  const full = shareRequest('a1', {
    label: ' Proofs ', expiresIn: String(EXPIRY_PRESETS[0].seconds), maxViews: '10', password: 'pw pw',
    download: 'original', stripLocation: false, watermark: ' © Me ',
  });
  assert.deepEqual(full, {
    album_id: 'a1', download: 'original', strip_location: false, label: 'Proofs',
    expires_in_seconds: 7 * 86400, max_views: 10, password: 'pw pw', watermark: '© Me',
  });
  assert.equal(shareRequest('a', { maxViews: '-3', expiresIn: '0' }).max_views, undefined);
  assert.equal(shareRequest('a', { expiresIn: '0' }).expires_in_seconds, undefined);
});

test('shareRequest sends the favourites limit, first-view notice and email only when set', () => {
  // Unset, as the form reads an untouched form: nothing new in the body.
  assert.deepEqual(shareRequest('a1', { download: 'none', selectionLimit: '', notifyFirstView: false, sendTo: '', message: '' }),
    { album_id: 'a1', download: 'none', strip_location: true });
  const full = shareRequest('a1', {
    download: 'preview', selectionLimit: '3', notifyFirstView: true, sendTo: '  ada@example.com ', message: '  See you soon!\nThe studio  ',
  });
  assert.deepEqual(full, {
    album_id: 'a1', download: 'preview', strip_location: true, selection_limit: 3, notify_first_view: true,
    send_to: 'ada@example.com', message: 'See you soon!\nThe studio',
  });
  assert.equal(typeof full.selection_limit, 'number');
  assert.equal(shareRequest('a', { selectionLimit: 12 }).selection_limit, 12);
  for (const bad of ['0', '-2', '2.5', 'abc', 0, NaN, undefined]) {
    assert.equal('selection_limit' in shareRequest('a', { selectionLimit: bad }), false, String(bad));
  }
  // Only a real true asks for the notice (a checkbox's checked).
  assert.equal('notify_first_view' in shareRequest('a', { notifyFirstView: 'false' }), false);
  // A message without an address is not sent (the server would mail nobody).
  assert.deepEqual(shareRequest('a', { message: 'hello' }), { album_id: 'a', download: 'preview', strip_location: true });
  assert.equal('send_to' in shareRequest('a', { sendTo: '   ' }), false);
  // An address with a blank message sends no message.
  assert.deepEqual(shareRequest('a', { sendTo: 'x@example.com', message: '  ' }),
    { album_id: 'a', download: 'preview', strip_location: true, send_to: 'x@example.com' });
});

test('shareRequest asks for nothing that needs email when the server has none', () => {
  const v = { download: 'preview', selectionLimit: '2', notifyFirstView: true, sendTo: 'ada@example.com', message: 'Hi' };
  assert.deepEqual(shareRequest('a1', { ...v, mail: false }), { album_id: 'a1', download: 'preview', strip_location: true, selection_limit: 2 });
  // Unknown (undefined) or true: as before.
  assert.equal(shareRequest('a1', v).send_to, 'ada@example.com');
  assert.equal(shareRequest('a1', { ...v, mail: true }).notify_first_view, true);
});

test('mailAvailable: only an answer saying mail false turns the email fields off', () => {
  assert.equal(mailAvailable({ version: '1.0', mail: false, public_url: 'https://p.example' }), false);
  assert.equal(mailAvailable({ mail: true }), true);
  // No answer (a failed request), an older server without the field, odd values: keep the fields.
  for (const v of [null, undefined, {}, { mail: 'false' }, { mail: 0 }, 'x']) assert.equal(mailAvailable(v), true, JSON.stringify(v));
  assert.match(MAIL_OFF_HINT.sendTo, /^Email is not set up on this server \(PHOTOVAULT_SMTP_HOST\) — copy the link instead\.$/);
  assert.match(MAIL_OFF_HINT.notify, /PHOTOVAULT_SMTP_HOST/);
});

test('inviteOutcome reports the email only when one was asked for', () => {
  assert.equal(inviteOutcome({ invite_sent: true }, ''), null);
  assert.equal(inviteOutcome({}, undefined), null);
  assert.deepEqual(inviteOutcome({ invite_sent: true }, ' ada@example.com '), { sent: true, text: 'Emailed to ada@example.com.' });
  const failed = inviteOutcome({ invite_sent: false }, 'ada@example.com');
  assert.equal(failed.sent, false);
  assert.match(failed.text, /could not be sent.*copy the link/i);
  // An answer without invite_sent is not taken as sent.
  assert.equal(inviteOutcome({ url: '/s/x' }, 'ada@example.com').sent, false);
});

test('shareLink resolves relative URLs and falls back to the token', () => {
  assert.equal(shareLink({ url: '/s/abc' }, 'https://v.example'), 'https://v.example/s/abc');
  assert.equal(shareLink({ url: 'https://p.example/s/x' }, 'https://v.example'), 'https://p.example/s/x');
  assert.equal(shareLink({ token: 'tok_en' }, 'http://127.0.0.1:8080'), 'http://127.0.0.1:8080/s/tok_en');
  assert.equal(shareLink({}, 'https://v.example'), '');
});

test('dailyBars scales to the busiest day', () => {
  const b = dailyBars([{ date: 'd1', views: 10, downloads: 5 }, { date: 'd2', views: 0 }]);
  assert.equal(b[0].viewsPct, 100);
  assert.equal(b[0].downloadsPct, 50);
  assert.equal(b[1].viewsPct, 0);
  assert.deepEqual(dailyBars(null), []);
});

test('tokenFromPath accepts only URL-safe tokens', () => {
  const tok = 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE';
  assert.equal(tokenFromPath(`/s/${tok}`), tok);
  assert.equal(tokenFromPath(`/s/${tok}/`), tok);
  assert.equal(tokenFromPath('/s/'), '');
  assert.equal(tokenFromPath('/s/short'), '');
  assert.equal(tokenFromPath('/s/%3Cscript%3Ealert(1)%3C%2Fscript%3Eaaaaaaaaa'), '');
  assert.equal(tokenFromPath('/s/%E0%A4%A'), '');
  assert.equal(tokenFromPath(`/x/${tok}`), '');
  assert.equal(tokenFromPath(`/s/${tok}/extra`), '');
});

test('storageKey does not contain the token', () => {
  const tok = 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
  const k = storageKey(tok);
  assert.ok(!k.includes(tok.slice(0, 8)));
  assert.equal(k, storageKey(tok));
  assert.notEqual(k, storageKey(`${tok}x`));
});

class MemStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
}

test('Favourites persist per token and survive corrupt storage', () => {
  const st = new MemStorage();
  const a = new Favourites(st, 'token-aaaaaaaaaaaaaaaa');
  assert.equal(a.toggle('m1'), true);
  assert.equal(a.toggle('m2'), true);
  assert.equal(a.toggle('m1'), false);
  const again = new Favourites(st, 'token-aaaaaaaaaaaaaaaa');
  assert.deepEqual([...again.ids], ['m2']);
  const other = new Favourites(st, 'token-bbbbbbbbbbbbbbbb');
  assert.equal(other.size, 0, 'favourites of one link never leak into another');
  for (const key of st.m.keys()) assert.ok(!key.includes('token-'), 'the token is not a storage key');
  again.toggle('m3');
  again.retain(new Set(['m3']));
  assert.deepEqual(again.ordered([{ id: 'm3' }, { id: 'm2' }]), ['m3']);
  st.setItem(again.key, '{not json');
  assert.equal(new Favourites(st, 'token-aaaaaaaaaaaaaaaa').size, 0);
  st.setItem(again.key, '[1, {"x":2}, "ok"]');
  assert.deepEqual([...new Favourites(st, 'token-aaaaaaaaaaaaaaaa').ids], ['ok']);
  assert.equal(new Favourites(null, 't').toggle('x'), true);
});

test('previewSize, tileRatio, downloadURL, selectionError', () => {
  assert.deepEqual(previewSize(6000, 4000), { width: 2048, height: 1365 });
  assert.deepEqual(previewSize(800, 600), { width: 800, height: 600 });
  assert.deepEqual(previewSize(0, 0), { width: 1536, height: 1024 });
  assert.equal(tileRatio(10000, 100), 4);
  assert.equal(tileRatio(100, 10000), 0.4);
  assert.equal(tileRatio(0, 5), 1.5);
  assert.equal(downloadURL({ original_url: '/o', preview_url: '/p' }, 'original'), '/o');
  assert.equal(downloadURL({ preview_url: '/p' }, 'preview'), '/p');
  assert.equal(downloadURL({ preview_url: '/p' }, 'none'), '');
  assert.match(selectionError({ name: 'A', email: 'a@b.co' }, 0), /heart/);
  assert.match(selectionError({ name: ' ', email: 'a@b.co' }, 2), /name/);
  assert.match(selectionError({ name: 'A', email: 'nope' }, 2), /email/);
  assert.equal(selectionError({ name: 'A', email: 'a@b.co' }, 2), '');
});

test('selectionLimit reads the share field; 0 is no limit', () => {
  assert.equal(selectionLimit(10), 10);
  assert.equal(selectionLimit(1), 1);
  for (const v of [null, undefined, 0, -3, 2.5, '10', NaN, Infinity, {}]) assert.equal(selectionLimit(v), 0, String(v));
});

test('favouritesLabel and limitMessage say the limit', () => {
  assert.equal(favouritesLabel(3, 0), '3 favourites');
  assert.equal(favouritesLabel(1, 0), '1 favourite');
  assert.equal(favouritesLabel(3, 10), '3 of 10 favourites');
  assert.equal(favouritesLabel(0, 1), '0 of 1 favourite');
  assert.equal(limitMessage(10, 10), 'You can pick up to 10 photos — remove one to add another.');
  assert.equal(limitMessage(1, 1), 'You can pick up to 1 photo — remove one to add another.');
  assert.equal(limitMessage(11, 10), 'You can pick up to 10 photos — remove one to send your selection.');
  assert.equal(limitMessage(12, 10), 'You can pick up to 10 photos — remove 2 to send your selection.');
  assert.equal(overLimit(11, 10), true);
  assert.equal(overLimit(10, 10), false);
  assert.equal(overLimit(500, 0), false, 'no limit');
});

test('Favourites.canAdd: below the limit, or already a favourite', () => {
  const f = new Favourites(new MemStorage(), 'token-cccccccccccccccc');
  assert.equal(f.canAdd('a', 2), true);
  f.toggle('a');
  f.toggle('b');
  assert.equal(f.canAdd('c', 2), false, 'a third is refused at a limit of 2');
  assert.equal(f.canAdd('a', 2), true, 'a favourite can always be removed');
  assert.equal(f.canAdd('c', 0), true, 'no limit');
  assert.equal(f.canAdd('c', 3), true);
  // Kept from before the limit was lowered: shown as is, nothing added.
  f.toggle('c');
  assert.equal(f.canAdd('d', 2), false);
  assert.equal(f.size, 3);
});

test('selectionError refuses more favourites than the limit', () => {
  const ok = { name: 'A', email: 'a@b.co' };
  assert.equal(selectionError(ok, 2, 2), '');
  assert.equal(selectionError(ok, 3, 2), 'You can pick up to 2 photos — remove one to send your selection.');
  assert.equal(selectionError(ok, 3, 0), '');
  assert.match(selectionError(ok, 0, 2), /heart/);
  assert.match(selectionError({ name: '', email: 'a@b.co' }, 5, 2), /up to 2 photos/, 'the limit is said before the form fields');
});
