// Client gallery at /s/{token}: lock screen, justified grid, PhotoSwipe
// lightbox, favourites (within the share's selection limit) and "send my
// selection". Every piece of user text (studio, title, filenames) goes through
// textContent.
import '../css/gallery.css';
import { h, mount, modal, field, icon, ICONS, toast, initToasts } from '../lib/dom.js';
import { apiError, ApiError, messageOf, parseJSON } from '../lib/http.js';
import { formatDate, plural, retryAfterSeconds } from '../lib/format.js';
import {
  tokenFromPath, Favourites, previewSize, tileRatio, downloadURL, selectionError,
  selectionLimit, favouritesLabel, limitMessage, overLimit,
} from './logic.js';

/** The gallery of one share link. */
class Gallery {
  /**
   * @param {HTMLElement} root
   * @param {string} token
   */
  constructor(root, token) {
    this.root = root;
    this.token = token;
    this.base = `/api/public/shares/${encodeURIComponent(token)}`;
    /** unlock session; kept in memory only (the HttpOnly cookie covers reloads) */
    this.session = '';
    this.meta = null;
    /** @type {any[]} */
    this.items = [];
    this.onlyFavs = false;
    let storage = null;
    try { storage = window.localStorage; } catch { /* blocked */ }
    this.favs = new Favourites(storage, token);
    /** the most favourites the client may send (0: no limit) */
    this.limit = 0;
    /** @type {Map<string, HTMLElement>} */
    this.tiles = new Map();
    this.pswp = null;
  }

  /**
   * Calls a public endpoint; JSON in and out.
   * @param {string} method
   * @param {string} path
   * @param {any} [body]
   */
  async call(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.session) headers['X-Share-Session'] = this.session;
    let res;
    try {
      res = await fetch(this.base + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin', cache: 'no-store', referrerPolicy: 'no-referrer',
      });
    } catch {
      throw apiError(0, null);
    }
    const data = res.status === 204 ? null : parseJSON(await res.text());
    if (!res.ok) throw apiError(res.status, data, res.status === 429 ? retryAfterSeconds(res.headers.get('Retry-After')) : undefined);
    return data;
  }

  async start() {
    this.loading();
    try {
      this.meta = await this.call('GET', '/meta');
    } catch (e) {
      this.fail(e);
      return;
    }
    this.setTitle();
    await this.open();
  }

  /** The tab title: album and studio. */
  setTitle() {
    const m = this.meta || {};
    document.title = [m.title, m.studio].filter(Boolean).join(' — ') || 'Gallery';
  }

  /** Loads the content (counts one view) or shows the lock screen. */
  async open() {
    this.loading();
    let content;
    try {
      content = await this.call('GET', '/content');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401 && this.meta && this.meta.requires_password) {
        this.session = '';
        this.lock();
        return;
      }
      this.fail(e);
      return;
    }
    this.items = Array.isArray(content && content.items) ? content.items : [];
    const c = content && typeof content === 'object' ? content : {};
    this.limit = selectionLimit('selection_limit' in c ? c.selection_limit : (this.meta || {}).selection_limit);
    // meta hides a password share's title until it is unlocked: the content
    // (only served unlocked) has it.
    if (content && this.meta) {
      if (typeof content.title === 'string') this.meta.title = content.title;
      if (typeof content.studio === 'string' && content.studio) this.meta.studio = content.studio;
      this.setTitle();
    }
    this.favs.retain(new Set(this.items.map((it) => it.id)));
    this.show();
  }

  loading() {
    mount(this.root, h('div', { class: 'g-center' }, h('div', { class: 'spinner', attrs: { 'aria-label': 'Loading' } })));
  }

  /** @param {unknown} e */
  fail(e) {
    let title = 'Something went wrong';
    let text = messageOf(e);
    let retry = true;
    if (e instanceof ApiError) {
      if (e.status === 404) { title = 'Link not found'; text = 'Please check the link you were sent, or ask your photographer for a new one.'; retry = false; }
      if (e.status === 410) { title = 'This link has expired or was revoked'; text = 'Please ask your photographer for a new link.'; retry = false; }
      if (e.status === 429) { text = `Too many requests. Please try again in ${e.retryAfter || 30} s.`; }
    }
    mount(this.root, h('div', { class: 'g-center' }, h('div', { class: 'g-message' },
      this.meta && this.meta.studio ? h('p', { class: 'studio', text: this.meta.studio }) : null,
      h('h1', { text: title }),
      h('p', { class: 'muted', text }),
      retry ? h('button', { class: 'g-btn', type: 'button', text: 'Try again', onclick: () => (this.meta ? this.open() : this.start()) }) : null)));
  }

  /** The password screen. */
  lock() {
    const m = this.meta || {};
    const err = h('p', { class: 'g-error', attrs: { role: 'alert', 'aria-live': 'assertive' } });
    const input = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password', placeholder: 'Password', attrs: { 'aria-label': 'Password' } });
    const btn = h('button', { class: 'g-btn primary', type: 'submit', text: 'View photos' });
    let timer = 0;
    const countdown = (secs) => {
      clearInterval(timer);
      let left = secs;
      btn.disabled = true;
      const tick = () => {
        if (left <= 0) { clearInterval(timer); btn.disabled = false; err.textContent = ''; return; }
        err.textContent = `Too many attempts, try again in ${left} s.`;
        left--;
      };
      tick();
      timer = setInterval(tick, 1000);
    };
    const form = h('form', {
      class: 'g-lock-form',
      onsubmit: async (e) => {
        e.preventDefault();
        if (btn.disabled) return;
        err.textContent = '';
        btn.disabled = true;
        try {
          // The password travels only in a POST body, never in a URL.
          const r = await this.call('POST', '/unlock', { password: input.value });
          this.session = (r && r.session) || '';
          clearInterval(timer);
          await this.open();
        } catch (ex) {
          btn.disabled = false;
          if (ex instanceof ApiError && ex.status === 401) {
            err.textContent = 'Wrong password. Please try again.';
            input.select();
          } else if (ex instanceof ApiError && ex.status === 429) {
            countdown(ex.retryAfter || 30);
          } else if (ex instanceof ApiError && (ex.status === 410 || ex.status === 404)) {
            this.fail(ex);
          } else {
            err.textContent = messageOf(ex);
          }
        }
      },
    }, input, btn);
    mount(this.root, h('div', { class: 'g-center' }, h('div', { class: 'g-lock' },
      icon(ICONS.lock, 'icon lock-icon'),
      m.studio ? h('p', { class: 'studio', text: m.studio }) : null,
      h('h1', { text: m.title || 'Private gallery' }),
      h('p', { class: 'muted', text: 'This gallery is protected. Enter the password you were given.' }),
      form, err)));
    input.focus();
  }

  /** The gallery page. */
  show() {
    const m = this.meta || {};
    const sub = [plural(this.items.length, 'photo')];
    if (this.limit) sub.push(`choose up to ${plural(this.limit, 'favourite')}`);
    if (m.expires_at) sub.push(`available until ${formatDate(m.expires_at)}`);
    this.favBtn = h('button', {
      class: 'g-btn', type: 'button', attrs: { 'aria-pressed': 'false' },
      onclick: () => { this.onlyFavs = !this.onlyFavs; this.renderGrid(); this.paintBar(); },
    });
    this.sendBtn = h('button', { class: 'g-btn primary', type: 'button', onclick: () => this.sendSelection() });
    // More favourites than the limit (kept from before it was lowered): said
    // here until the client removes some.
    this.limitNote = h('p', { class: 'g-limit-note', id: 'g-limit-note', attrs: { role: 'status' } });
    // Refusals (a heart past the limit) are announced from one live region
    // that exists before its first message; it shows above the lightbox too.
    this.notices = h('div', { class: 'g-notices', attrs: { role: 'alert' } });
    const zip = m.download && m.download !== 'none' && this.items.length
      ? h('a', { class: 'g-btn', href: `${this.base}/zip`, download: '', rel: 'noopener' }, icon(ICONS.download), h('span', { text: 'Download all' }))
      : null;
    this.grid = h('div', { class: 'g-grid' });
    this.emptyNote = h('p', { class: 'g-empty muted' });
    mount(this.root,
      h('header', { class: 'g-head' },
        m.studio ? h('p', { class: 'studio', text: m.studio }) : null,
        h('h1', { text: m.title || 'Gallery' }),
        h('p', { class: 'muted', text: sub.join(' · ') })),
      h('nav', { class: 'g-bar', attrs: { 'aria-label': 'Gallery actions' } }, this.favBtn, h('span', { class: 'spacer' }), zip, this.sendBtn, this.limitNote),
      h('main', {}, this.emptyNote, this.grid),
      h('footer', { class: 'g-foot muted' }, m.studio ? `© ${m.studio}` : ''),
      this.notices);
    this.renderGrid();
    this.paintBar();
    // Warm the lightbox code once the page is idle.
    const idle = window.requestIdleCallback || ((f) => setTimeout(f, 1500));
    idle(() => { loadPhotoSwipe().catch(() => {}); });
  }

  /** Items currently shown (all, or favourites only). */
  visible() {
    return this.onlyFavs ? this.items.filter((it) => this.favs.has(it.id)) : this.items;
  }

  paintBar() {
    const n = this.favs.size;
    const count = this.limit ? `${n} of ${this.limit}` : `${n}`;
    const label = favouritesLabel(n, this.limit);
    const over = overLimit(n, this.limit);
    mount(this.favBtn, icon(ICONS.heart, `icon heart-icon${n ? ' on' : ''}`), h('span', { text: this.onlyFavs ? `Favourites (${count})` : count }));
    this.favBtn.classList.toggle('over', over);
    this.favBtn.setAttribute('aria-pressed', String(this.onlyFavs));
    this.favBtn.title = this.onlyFavs ? 'Show all photos' : 'Show favourites only';
    this.favBtn.setAttribute('aria-label', this.onlyFavs ? `Showing ${label}; show all photos` : `${label}; show favourites only`);
    mount(this.sendBtn, h('span', { text: n ? `Send my selection (${n})` : 'Send my selection' }));
    this.sendBtn.disabled = n === 0;
    this.limitNote.textContent = over ? limitMessage(n, this.limit) : '';
    this.limitNote.hidden = !over;
    if (over) this.sendBtn.setAttribute('aria-describedby', this.limitNote.id);
    else this.sendBtn.removeAttribute('aria-describedby');
  }

  /**
   * Tells the client something they need to act on (a favourite refused at
   * the limit); the newest message replaces the previous one.
   * @param {string} text
   */
  say(text) {
    const n = h('div', { class: 'g-notice', text });
    mount(this.notices, n);
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => n.remove(), 6000);
  }

  renderGrid() {
    const list = this.visible();
    this.emptyNote.textContent = this.onlyFavs && !list.length
      ? 'No favourites yet. Tap the heart on a photo to add it to your selection.'
      : !this.items.length ? 'This gallery is empty.' : '';
    this.emptyNote.hidden = !this.emptyNote.textContent;
    mount(this.grid, list.map((it, i) => this.tile(it, i)));
  }

  /** @param {any} it @param {number} index */
  tile(it, index) {
    const ratio = tileRatio(it.width, it.height);
    const img = h('img', {
      src: it.thumb_url, alt: it.filename || '', loading: index < 12 ? 'eager' : 'lazy', decoding: 'async',
      width: it.width > 0 ? Math.round(400 * ratio) : 600, height: 400, draggable: false,
      onerror: () => this.brokenImage(el),
    });
    const link = h('a', {
      class: 'g-link', href: it.preview_url, title: it.filename || '',
      onclick: (e) => { e.preventDefault(); this.lightbox(index); },
    }, img);
    const heart = h('button', {
      class: 'g-heart', type: 'button',
      attrs: { 'aria-pressed': String(this.favs.has(it.id)), 'aria-label': `Favourite ${it.filename || 'photo'}` },
      onclick: () => this.toggleFav(it.id),
    }, icon(ICONS.heart));
    const dl = downloadURL(it, this.meta.download);
    const download = dl ? h('a', {
      class: 'g-dl', href: dl, download: it.filename || '', rel: 'noopener',
      attrs: { 'aria-label': `Download ${it.filename || 'photo'}` }, title: 'Download',
    }, icon(ICONS.download)) : null;
    const el = h('figure', { class: 'g-item', dataset: { id: it.id } }, link, heart, download);
    el.style.setProperty('--r', String(ratio)); // CSSOM custom property: CSP-safe
    this.tiles.set(it.id, el);
    return el;
  }

  /**
   * A thumbnail failed: signed media URLs expire, and revocation kills them.
   * Say so once instead of silently re-opening the share (that would count views).
   * @param {HTMLElement} el
   */
  brokenImage(el) {
    el.classList.add('broken');
    if (this.warnedBroken) return;
    this.warnedBroken = true;
    toast('Some photos could not be loaded. Reload the page to refresh them.', 'error');
  }

  /**
   * Flips a favourite and returns whether it is one now; past the selection
   * limit an addition is refused with a message (removing is always allowed).
   * @param {string} id
   */
  toggleFav(id) {
    if (!this.favs.canAdd(id, this.limit)) {
      this.say(limitMessage(this.favs.size, this.limit));
      return false;
    }
    const on = this.favs.toggle(id);
    const t = this.tiles.get(id);
    if (t) t.querySelector('.g-heart').setAttribute('aria-pressed', String(on));
    if (this.onlyFavs && !on && !this.pswp) this.renderGrid();
    this.paintBar();
    return on;
  }

  /** Opens the lightbox on the visible item at index. @param {number} index */
  async lightbox(index) {
    let PhotoSwipe;
    try {
      PhotoSwipe = await loadPhotoSwipe();
    } catch {
      toast('Could not open the viewer. Please reload the page.', 'error');
      return;
    }
    const list = this.visible();
    const pswp = new PhotoSwipe({
      dataSource: list.map((it) => ({ src: it.preview_url, msrc: it.thumb_url, alt: it.filename || '', ...previewSize(it.width, it.height) })),
      index,
      bgOpacity: 0.97,
      showHideAnimationType: 'zoom',
      preload: [1, 2],
      wheelToZoom: false,
      closeTitle: 'Close (Esc)',
      arrowPrevTitle: 'Previous (←)',
      arrowNextTitle: 'Next (→)',
      zoomTitle: 'Zoom',
      errorMsg: 'This photo could not be loaded.',
    });
    pswp.addFilter('thumbEl', (el, data, i) => {
      const t = this.tiles.get(list[i] && list[i].id);
      return (t && t.querySelector('img')) || el;
    });
    pswp.addFilter('placeholderSrc', (src, slide) => {
      const t = this.tiles.get(list[slide.index] && list[slide.index].id);
      const img = t && t.querySelector('img');
      return img && img.complete ? img.currentSrc || img.src : src;
    });
    const current = () => list[pswp.currIndex];
    pswp.on('uiRegister', () => {
      pswp.ui.registerElement({
        name: 'favourite', order: 8, isButton: true, html: '', title: 'Favourite (F)',
        onInit: (el) => {
          el.appendChild(icon(ICONS.heart, 'icon pswp-icon'));
          const paint = () => el.setAttribute('aria-pressed', String(this.favs.has((current() || {}).id)));
          pswp.on('change', paint);
          paint();
        },
        onClick: (e, el) => {
          const it = current();
          if (it) el.setAttribute('aria-pressed', String(this.toggleFav(it.id)));
        },
      });
      pswp.ui.registerElement({
        name: 'download', order: 9, isButton: true, tagName: 'a', html: '', title: 'Download',
        onInit: (el) => {
          el.appendChild(icon(ICONS.download, 'icon pswp-icon'));
          el.setAttribute('rel', 'noopener');
          const paint = () => {
            const it = current() || {};
            const url = downloadURL(it, this.meta.download);
            el.hidden = !url;
            if (url) { el.setAttribute('href', url); el.setAttribute('download', it.filename || ''); }
          };
          pswp.on('change', paint);
          paint();
        },
      });
      pswp.ui.registerElement({
        name: 'caption', order: 9, isButton: false, appendTo: 'root', html: '',
        onInit: (el) => {
          const paint = () => { el.textContent = (current() || {}).filename || ''; };
          pswp.on('change', paint);
          paint();
        },
      });
    });
    pswp.on('keydown', (e) => {
      const ke = e.originalEvent;
      if (ke.key === 'f' || ke.key === 'F') {
        const it = current();
        if (it) {
          this.toggleFav(it.id);
          const b = pswp.element && pswp.element.querySelector('.pswp__button--favourite');
          if (b) b.setAttribute('aria-pressed', String(this.favs.has(it.id)));
        }
      }
    });
    pswp.on('destroy', () => {
      this.pswp = null;
      if (this.onlyFavs) this.renderGrid();
    });
    this.pswp = pswp;
    pswp.init();
  }

  /** Re-reads the selection limit (meta counts no view) and repaints the bar. */
  async refreshLimit() {
    try {
      const m = await this.call('GET', '/meta');
      this.limit = selectionLimit(m && m.selection_limit);
      this.paintBar();
    } catch { /* keep the one we have */ }
  }

  /** The "send my selection" form. */
  sendSelection() {
    const ids = this.favs.ordered(this.items);
    if (!ids.length) return;
    // Never send more than the limit: the client chooses which to drop.
    if (overLimit(ids.length, this.limit)) {
      this.say(limitMessage(ids.length, this.limit));
      return;
    }
    modal((close) => {
      const err = h('p', { class: 'g-error', attrs: { role: 'alert' } });
      const btn = h('button', { class: 'g-btn primary', type: 'submit', text: `Send ${plural(ids.length, 'photo')}` });
      const form = h('form', {
        class: 'g-form',
        onsubmit: async (e) => {
          e.preventDefault();
          const v = { name: field(form, 'name'), email: field(form, 'email'), note: field(form, 'note') };
          const problem = selectionError(v, ids.length, this.limit);
          if (problem) { err.textContent = problem; return; }
          btn.disabled = true;
          err.textContent = '';
          try {
            const body = { name: v.name, email: v.email, media_ids: ids };
            if (v.note) body.note = v.note;
            await this.call('POST', '/selections', body);
            mount(form, h('div', { class: 'g-thanks' },
              icon(ICONS.heart, 'icon heart-icon on big'),
              h('h2', { text: `Thank you, ${v.name}!` }),
              h('p', { class: 'muted', text: `Your selection of ${plural(ids.length, 'photo')} was sent${this.meta.studio ? ` to ${this.meta.studio}` : ''}.` }),
              h('button', { class: 'g-btn primary', type: 'button', text: 'Back to the gallery', onclick: () => close(true), autofocus: true })));
          } catch (ex) {
            btn.disabled = false;
            if (ex instanceof ApiError && ex.status === 429) err.textContent = `Too many attempts, try again in ${ex.retryAfter || 30} s.`;
            else if (ex instanceof ApiError && ex.status === 410) err.textContent = 'This link has expired or was revoked.';
            else if (ex instanceof ApiError && ex.code === 'selection_limit') {
              // The photographer lowered the limit since the page loaded.
              await this.refreshLimit();
              err.textContent = overLimit(ids.length, this.limit) ? limitMessage(ids.length, this.limit) : messageOf(ex);
            } else err.textContent = messageOf(ex);
          }
        },
      },
      h('div', { class: 'row' }, h('h2', { class: 'grow', text: 'Send my selection' }),
        h('button', { class: 'icon-btn', type: 'button', attrs: { 'aria-label': 'Close' }, onclick: () => close() }, icon(ICONS.close))),
      h('p', { class: 'muted', text: `You picked ${plural(ids.length, 'favourite')}. Your photographer will receive the list.` }),
      h('label', { class: 'g-field' }, h('span', { text: 'Your name' }), h('input', { name: 'name', required: true, autocomplete: 'name', maxLength: 200 })),
      h('label', { class: 'g-field' }, h('span', { text: 'Email' }), h('input', { name: 'email', type: 'email', required: true, autocomplete: 'email', maxLength: 320 })),
      h('label', { class: 'g-field' }, h('span', { text: 'Note (optional)' }), h('textarea', { name: 'note', rows: 3, maxLength: 2000 })),
      err, btn);
      return form;
    }, 'g-modal');
  }
}

/** Loads the PhotoSwipe core on demand (its own chunk). */
function loadPhotoSwipe() {
  return import('photoswipe').then((m) => m.default);
}

initToasts(); // the live region exists before its first message, above the lightbox
const root = document.getElementById('app');
if (root) {
  const token = tokenFromPath(location.pathname);
  const g = new Gallery(root, token);
  if (token) g.start();
  else g.fail(new ApiError(404, 'not_found', 'Link not found'));
}
