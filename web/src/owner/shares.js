// Client links of one album: create (token shown once), list, revoke,
// analytics and client selections.
import { h, mount, field, icon, ICONS, confirmDialog, toast } from '../lib/dom.js';
import { messageOf } from '../lib/http.js';
import { formatDate, formatDateTime, plural, until } from '../lib/format.js';
import {
  EXPIRY_PRESETS, DOWNLOAD_MODES, STATUS_LABEL, MAIL_OFF_HINT, shareStatus, shareRequest, shareLink, inviteOutcome, dailyBars, mailAvailable,
} from '../lib/share.js';
import { mediaURL } from './api.js';

/**
 * Renders the client-links tab of album into panel.
 * @param {import('./album.js').ViewCtx} ctx
 * @param {HTMLElement} panel
 * @param {any} album
 */
export function sharesPanel(ctx, panel, album) {
  const list = h('div', { class: 'share-list', attrs: { 'aria-busy': 'true' } });
  const created = h('div', { class: 'created-slot' });
  const names = new Map((album.media || []).map((m) => [m.id, m.filename || '']));

  const load = async () => {
    let shares;
    try {
      shares = (await ctx.api.shares()).filter((s) => s.album_id === album.id);
    } catch (e) {
      if (ctx.live()) mount(list, h('p', { class: 'error', text: messageOf(e) }));
      return;
    }
    if (!ctx.live()) return;
    list.removeAttribute('aria-busy');
    if (!shares.length) {
      mount(list, h('p', { class: 'muted empty-note', text: 'No client links for this album yet.' }));
      return;
    }
    shares.sort((a, b) => String(b.created_at || '').localeCompare(String(a.created_at || '')));
    mount(list, shares.map((s) => shareCard(ctx, s, names, load)));
  };

  const form = createForm(ctx, album, (res, sendTo) => {
    showCreated(created, res, sendTo);
    load();
  });
  mount(panel,
    h('div', { class: 'shares-layout' },
      h('section', { class: 'card' }, h('h2', { text: 'New client link' }), form),
      h('section', { class: 'grow' }, created, h('h2', { text: 'Links' }), list)));
  load();
}

/** Makes the ids of the form's hints unique on the page. */
let hintSeq = 0;

/**
 * The create-share form. The email fields (send the link, notice on first
 * view) turn off with a hint when the server says it cannot send email.
 * @param {import('./album.js').ViewCtx} ctx
 * @param {any} album
 * @param {(res: any, sendTo: string) => void} onCreated res and the address the link was emailed to ('' if none)
 */
function createForm(ctx, album, onCreated) {
  const err = h('p', { class: 'error', attrs: { role: 'alert' } });
  const btn = h('button', { class: 'btn primary block', type: 'submit' }, icon(ICONS.link), h('span', { text: 'Create link' }));
  // The message to the client only goes with an email, so it shows only then.
  const sendTo = h('input', { name: 'send_to', type: 'email', autocomplete: 'off', maxLength: 254, placeholder: 'client@example.com', oninput: () => syncMessage() });
  const messageField = h('label', { class: 'field', hidden: true }, h('span', { text: 'Message to your client (optional)' }),
    h('textarea', { name: 'message', rows: 3, maxLength: 2000 }));
  const syncMessage = () => { messageField.hidden = !sendTo.value.trim(); };
  const notify = h('input', { type: 'checkbox', name: 'notify_first_view' });
  const notifyLabel = h('label', { class: 'check' }, notify, h('span', { text: 'Email me when the link is first opened' }));
  const seq = ++hintSeq;
  const notifyHint = h('p', { class: 'muted small mail-hint', id: `notify-hint-${seq}`, hidden: true, text: MAIL_OFF_HINT.notify });
  const sendToHint = h('small', { class: 'muted mail-hint', id: `send-to-hint-${seq}`, hidden: true, text: MAIL_OFF_HINT.sendTo });
  const sendToLabel = h('label', { class: 'field' }, h('span', { text: 'Email the link to (optional)' }), sendTo, sendToHint);
  let mail = true;
  /** Turns the fields that need email off, each with its hint (the server has no SMTP). */
  const mailOff = () => {
    mail = false;
    sendTo.value = '';
    notify.checked = false;
    syncMessage();
    messageField.querySelector('textarea').disabled = true;
    for (const [input, label, hint] of [[sendTo, sendToLabel, sendToHint], [notify, notifyLabel, notifyHint]]) {
      input.disabled = true;
      input.setAttribute('aria-describedby', hint.id);
      label.classList.add('disabled');
      hint.hidden = false;
    }
  };
  const form = h('form', {
    class: 'stack',
    autocomplete: 'off',
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      btn.disabled = true;
      try {
        const body = shareRequest(album.id, {
          label: field(form, 'label'),
          expiresIn: field(form, 'expires'),
          maxViews: field(form, 'max_views'),
          password: field(form, 'password'),
          download: field(form, 'download'),
          stripLocation: field(form, 'strip_location'),
          watermark: field(form, 'watermark'),
          selectionLimit: field(form, 'selection_limit'),
          notifyFirstView: field(form, 'notify_first_view'),
          sendTo: field(form, 'send_to'),
          message: field(form, 'message'),
          mail,
        });
        const res = await ctx.api.createShare(body);
        form.reset();
        syncMessage();
        onCreated(res, body.send_to || '');
      } catch (ex) {
        err.textContent = messageOf(ex);
      } finally {
        btn.disabled = false;
      }
    },
  },
  h('label', { class: 'field' }, h('span', { text: 'Label (only you see it)' }),
    h('input', { name: 'label', maxLength: 200, placeholder: 'e.g. Smith wedding — proofs' })),
  h('div', { class: 'grid2' },
    h('label', { class: 'field' }, h('span', { text: 'Expires after' }),
      h('select', { name: 'expires' }, EXPIRY_PRESETS.map((p, i) => h('option', { value: String(p.seconds), text: p.label, selected: i === 1, defaultSelected: i === 1 })))),
    h('label', { class: 'field' }, h('span', { text: 'Max views' }),
      h('input', { name: 'max_views', type: 'number', min: 1, step: 1, inputMode: 'numeric', placeholder: 'Unlimited' }))),
  h('label', { class: 'field' }, h('span', { text: 'Password (optional)' }),
    h('input', { name: 'password', type: 'password', autocomplete: 'new-password', placeholder: 'Leave empty for none' })),
  h('label', { class: 'field' }, h('span', { text: 'Downloads' }),
    h('select', { name: 'download' }, DOWNLOAD_MODES.map((m) => h('option', { value: m.value, text: m.label, selected: m.value === 'preview', defaultSelected: m.value === 'preview' })))),
  h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'strip_location', checked: true, defaultChecked: true }),
    h('span', { text: 'Remove GPS location from downloads' })),
  h('label', { class: 'field' }, h('span', { text: 'Watermark text (optional)' }),
    h('input', { name: 'watermark', maxLength: 60, placeholder: 'e.g. © Studio Name' })),
  h('label', { class: 'field' }, h('span', { text: 'Favourites limit' }),
    h('input', { name: 'selection_limit', type: 'number', min: 1, step: 1, inputMode: 'numeric', placeholder: 'No limit' })),
  notifyLabel, notifyHint,
  sendToLabel,
  messageField,
  err, btn);
  // Known once per page (the API caches it); no answer keeps the fields on.
  // data-mail says what the form went by: on, off or unknown.
  ctx.api.instance().then((info) => {
    const on = mailAvailable(info);
    if (!on) mailOff();
    form.dataset.mail = !info ? 'unknown' : on ? 'on' : 'off';
  });
  return form;
}

/**
 * Shows a just-created link once, with a copy button.
 * @param {HTMLElement} slot
 * @param {any} res POST /api/shares answer
 * @param {string} [sendTo] the address the link was to be emailed to
 */
function showCreated(slot, res, sendTo) {
  const url = shareLink(res, location.origin);
  const invite = inviteOutcome(res, sendTo);
  const input = h('input', { class: 'mono', readOnly: true, value: url, attrs: { 'aria-label': 'Client link' }, onfocus: () => input.select() });
  const copy = h('button', {
    class: 'btn primary', type: 'button', text: 'Copy',
    onclick: async () => {
      if (await copyText(url, input)) { copy.textContent = 'Copied'; setTimeout(() => { copy.textContent = 'Copy'; }, 2000); }
      else toast('Copy failed: select the link and copy it by hand.', 'error');
    },
  });
  mount(slot, h('section', { class: 'card created' },
    h('div', { class: 'row' }, h('h2', { class: 'grow', text: 'Link created' }),
      h('button', { class: 'icon-btn', type: 'button', attrs: { 'aria-label': 'Dismiss' }, onclick: () => slot.replaceChildren() }, icon(ICONS.close))),
    invite ? h('p', { class: invite.sent ? 'invite-sent' : 'warn invite-failed', attrs: { role: 'status' }, text: invite.text }) : null,
    h('p', { class: 'warn', text: 'Copy this link now and send it to your client. It is stored only as a fingerprint, so it cannot be shown again.' }),
    h('div', { class: 'row copy-row' }, input, copy)));
  input.focus();
}

/**
 * Copies text to the clipboard, falling back to a selection copy where the
 * async Clipboard API is unavailable (plain-HTTP origins).
 * @param {string} text
 * @param {HTMLInputElement} input
 */
async function copyText(text, input) {
  try {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
  } catch { /* fall back */ }
  input.focus();
  input.select();
  try { return document.execCommand('copy'); } catch { return false; }
}

/**
 * One share in the list.
 * @param {import('./album.js').ViewCtx} ctx
 * @param {any} s share
 * @param {Map<string, string>} names media id → filename
 * @param {() => void} reload
 */
function shareCard(ctx, s, names, reload) {
  const status = shareStatus(s);
  const detail = h('div', { class: 'share-detail' });
  let open = '';
  const toggle = (kind, render) => async () => {
    if (open === kind) { open = ''; detail.replaceChildren(); setPressed(); return; }
    open = kind; setPressed();
    mount(detail, h('div', { class: 'spinner small' }));
    try {
      const node = await render();
      if (open === kind) mount(detail, node);
    } catch (e) {
      if (open === kind) mount(detail, h('p', { class: 'error', text: messageOf(e) }));
    }
  };
  const statsBtn = h('button', { class: 'btn ghost small', type: 'button', text: 'Analytics', onclick: toggle('stats', () => analyticsView(ctx, s)) });
  const selBtn = h('button', { class: 'btn ghost small', type: 'button', text: 'Selections', onclick: toggle('sel', () => selectionsView(ctx, s, names)) });
  const setPressed = () => {
    statsBtn.setAttribute('aria-pressed', String(open === 'stats'));
    selBtn.setAttribute('aria-pressed', String(open === 'sel'));
  };
  const revoke = status === 'revoked' ? null : h('button', {
    class: 'btn ghost small danger-text', type: 'button', text: 'Revoke',
    onclick: async () => {
      const ok = await confirmDialog('Revoke this link?', 'The client will no longer be able to open it, and photo links already handed out stop working at once.', 'Revoke', true);
      if (!ok) return;
      try { await ctx.api.revokeShare(s.id); toast('Link revoked.'); reload(); } catch (e) { toast(messageOf(e), 'error'); }
    },
  });
  const views = s.max_views ? `${s.views || 0} / ${s.max_views} views` : plural(s.views || 0, 'view');
  const expiry = s.expires_at ? (status === 'expired' ? `expired ${formatDate(s.expires_at)}` : `expires ${formatDate(s.expires_at)} (${until(s.expires_at)})`) : 'never expires';
  const facts = [
    views,
    expiry,
    (DOWNLOAD_MODES.find((m) => m.value === s.download) || { label: s.download || '' }).label,
    s.requires_password || s.has_password || s.password_protected ? 'password' : null,
    s.watermark ? `watermark “${s.watermark}”` : null,
    s.selection_limit ? `up to ${plural(s.selection_limit, 'favourite')}` : null,
    s.notify_first_view ? 'email on first view' : null,
    Array.isArray(s.media_ids) && s.media_ids.length ? plural(s.media_ids.length, 'photo') : null,
  ].filter(Boolean);
  setPressed();
  return h('article', { class: `share card ${status}` },
    h('div', { class: 'row wrap' },
      h('h3', { class: 'grow', text: s.label || 'Untitled link' }),
      h('span', { class: `badge ${status}`, text: STATUS_LABEL[status] })),
    h('p', { class: 'muted small', text: facts.join(' · ') }),
    s.created_at ? h('p', { class: 'muted small', text: `Created ${formatDateTime(s.created_at)}${s.revoked_at ? ` · revoked ${formatDateTime(s.revoked_at)}` : ''}` }) : null,
    h('div', { class: 'row wrap' }, statsBtn, selBtn, h('span', { class: 'grow' }), revoke),
    detail);
}

/**
 * Analytics panel of a share: totals and daily bars drawn with plain DOM.
 * @param {import('./album.js').ViewCtx} ctx
 * @param {any} s
 */
async function analyticsView(ctx, s) {
  const a = await ctx.api.analytics(s.id);
  const stat = (label, value) => h('div', { class: 'stat' }, h('strong', { text: String(value ?? 0) }), h('span', { class: 'muted', text: label }));
  const bars = dailyBars(a.daily);
  const chart = bars.length
    ? h('div', { class: 'chart', attrs: { role: 'img', 'aria-label': `Daily views and downloads over ${plural(bars.length, 'day')}` } },
      bars.map((d) => {
        const v = h('i', { class: 'bar views' });
        const dl = h('i', { class: 'bar downloads' });
        v.style.height = `${d.viewsPct}%`; // CSSOM: allowed by the CSP, unlike style attributes
        dl.style.height = `${d.downloadsPct}%`;
        return h('div', { class: 'day', title: `${d.date}: ${plural(d.views, 'view')}, ${plural(d.downloads, 'download')}` }, v, dl);
      }))
    : h('p', { class: 'muted', text: 'No visits yet.' });
  return h('div', { class: 'stack' },
    h('div', { class: 'stats' },
      stat('views', a.views), stat('unique visitors', a.unique_visitors), stat('downloads', a.downloads),
      stat('ZIP downloads', a.zip_downloads), stat('failed unlocks', a.unlock_failures)),
    chart,
    bars.length ? h('div', { class: 'row chart-axis muted small' }, h('span', { class: 'grow', text: bars[0].date }), h('span', { text: bars[bars.length - 1].date })) : null,
    bars.length ? h('div', { class: 'row legend small muted' }, h('i', { class: 'dot views' }), 'views', h('i', { class: 'dot downloads' }), 'downloads') : null,
    h('p', { class: 'muted small', text: a.last_access_at ? `Last visit ${formatDateTime(a.last_access_at)}` : 'Never opened yet.' }));
}

/**
 * Client selections of a share, with the CSV export.
 * @param {import('./album.js').ViewCtx} ctx
 * @param {any} s
 * @param {Map<string, string>} names
 */
async function selectionsView(ctx, s, names) {
  const items = await ctx.api.selections(s.id);
  const csv = h('a', { class: 'btn small', href: mediaURL.selectionsCSV(s.id), download: 'selections.csv' }, icon(ICONS.download), h('span', { text: 'Export CSV' }));
  if (!items.length) return h('div', { class: 'stack' }, h('p', { class: 'muted', text: 'No selections sent yet.' }));
  return h('div', { class: 'stack' },
    h('div', { class: 'row' }, h('strong', { class: 'grow', text: plural(items.length, 'selection') }), csv),
    items.map((sel) => {
      const ids = Array.isArray(sel.media_ids) ? sel.media_ids : [];
      const shown = ids.slice(0, 24);
      return h('div', { class: 'selection' },
        h('div', { class: 'row wrap' },
          h('strong', { text: sel.name || '' }),
          sel.email ? (/^[^\s@:/?#]+@[^\s@/?#]+$/.test(sel.email) ? h('a', { href: `mailto:${sel.email}`, text: sel.email }) : h('span', { text: sel.email })) : null,
          h('span', { class: 'grow' }),
          h('span', { class: 'muted small', text: `${plural(ids.length, 'photo')} · ${formatDateTime(sel.submitted_at)}` })),
        sel.note ? h('p', { class: 'pre note', text: sel.note }) : null,
        h('div', { class: 'sel-thumbs' }, shown.map((id) => h('img', { src: mediaURL.thumb(id), alt: names.get(id) || '', title: names.get(id) || '', loading: 'lazy' })),
          ids.length > shown.length ? h('span', { class: 'more muted', text: `+${ids.length - shown.length}` }) : null),
        names.size ? h('p', { class: 'muted small mono', text: ids.map((id) => names.get(id) || id).join(', ') }) : null);
    }));
}
