// PhotoVault owner app: sign-in, albums, uploads, client links.
// Hash routes (#/, #/albums/{id}, #/albums/{id}/shares) keep the server's
// routing to one static page.
import '../css/owner.css';
import { h, mount, field, icon, ICONS, initToasts } from '../lib/dom.js';
import { ApiError, messageOf } from '../lib/http.js';
import { OwnerAPI } from './api.js';
import { albumsView } from './albums.js';
import { albumView } from './album.js';

/** The running owner app: one per page. */
class App {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    this.api = new OwnerAPI({ onSignedOut: () => this.signedOut() });
    this.me = null;
    /** @type {(() => void)|null} cleanup of the current view */
    this.cleanup = null;
    this.view = null;
    this.renderSeq = 0;
    /** @type {Map<string, import('./album.js').UploadView>} running uploads by album id */
    this.uploads = new Map();
    // Leaving the page would drop running uploads: ask first.
    window.addEventListener('beforeunload', (e) => {
      if ([...this.uploads.values()].some((u) => u.active)) e.preventDefault();
    });
    window.addEventListener('hashchange', () => { if (this.me) this.route(); });
  }

  async start() {
    mount(this.root, h('div', { class: 'center-page' }, h('div', { class: 'spinner', attrs: { 'aria-label': 'Loading' } })));
    try {
      const s = await this.api.setupStatus();
      if (s && s.setup_required) { this.showSetup(); return; }
    } catch { /* older servers or network: go on to sign-in */ }
    try {
      this.me = await this.api.me();
      this.showShell();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.showLogin();
      else this.showFatal(e);
    }
  }

  /** Called by the API client when a refresh failed: back to the sign-in form. */
  signedOut() {
    if (!this.me) return;
    this.me = null;
    this.stopView();
    this.abortUploads();
    this.showLogin('Your session has ended. Please sign in again.');
  }

  stopView() {
    if (this.cleanup) { try { this.cleanup(); } catch { /* ignore */ } }
    this.cleanup = null;
  }

  /** Stops every running upload (sign-out). */
  abortUploads() {
    for (const u of this.uploads.values()) u.cancel();
    this.uploads.clear();
  }

  /** @param {unknown} e */
  showFatal(e) {
    mount(this.root, h('div', { class: 'center-page' }, h('div', { class: 'card auth-card' },
      h('h1', { text: 'PhotoVault' }),
      h('p', { class: 'error', text: e instanceof Error ? e.message : 'Something went wrong.' }),
      h('button', { class: 'btn primary', text: 'Try again', onclick: () => this.start() }))));
  }

  /** @param {string} [notice] */
  showLogin(notice) {
    const err = h('p', { class: 'error', attrs: { role: 'alert' }, text: '' });
    const submit = h('button', { class: 'btn primary block', type: 'submit', text: 'Sign in' });
    const form = h('form', {
      class: 'stack',
      onsubmit: async (e) => {
        e.preventDefault();
        err.textContent = '';
        submit.disabled = true;
        try {
          await this.api.login(field(form, 'username'), field(form, 'password'));
          this.me = await this.api.me();
          this.showShell();
        } catch (ex) {
          err.textContent = loginMessage(ex);
          submit.disabled = false;
          form.elements.namedItem('password').select();
        }
      },
    },
    h('label', { class: 'field' }, h('span', { text: 'Username' }),
      h('input', { name: 'username', autocomplete: 'username', required: true, autofocus: true, attrs: { autocapitalize: 'none', spellcheck: 'false' } })),
    h('label', { class: 'field' }, h('span', { text: 'Password' }),
      h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    err, submit);
    mount(this.root, authPage('Sign in to your vault', notice, form));
    form.elements.namedItem('username').focus();
  }

  showSetup() {
    const err = h('p', { class: 'error', attrs: { role: 'alert' } });
    const submit = h('button', { class: 'btn primary block', type: 'submit', text: 'Create owner account' });
    const form = h('form', {
      class: 'stack',
      onsubmit: async (e) => {
        e.preventDefault();
        err.textContent = '';
        const pw = field(form, 'password');
        if (pw !== field(form, 'password2')) { err.textContent = 'The two passwords differ.'; return; }
        submit.disabled = true;
        try {
          const username = field(form, 'username');
          await this.api.setup(field(form, 'setup_token'), username, pw);
          await this.api.login(username, pw);
          this.me = await this.api.me();
          this.showShell();
        } catch (ex) {
          err.textContent = ex instanceof ApiError && ex.status === 401 ? 'The setup token is not valid.' : messageOf(ex);
          submit.disabled = false;
        }
      },
    },
    h('p', { class: 'muted', text: 'Welcome! Create the owner account. The one-time setup token was printed in the server log when PhotoVault first started.' }),
    h('label', { class: 'field' }, h('span', { text: 'Setup token' }),
      h('input', { name: 'setup_token', required: true, autocomplete: 'off', attrs: { autocapitalize: 'none', spellcheck: 'false' } })),
    h('label', { class: 'field' }, h('span', { text: 'Username' }),
      h('input', { name: 'username', required: true, autocomplete: 'username', attrs: { autocapitalize: 'none', spellcheck: 'false' } })),
    h('label', { class: 'field' }, h('span', { text: 'Password' }),
      h('input', { name: 'password', type: 'password', required: true, minLength: 12, autocomplete: 'new-password' }),
      h('small', { class: 'muted', text: 'At least 12 characters; not a common password and not like your username.' })),
    h('label', { class: 'field' }, h('span', { text: 'Repeat password' }),
      h('input', { name: 'password2', type: 'password', required: true, minLength: 12, autocomplete: 'new-password' })),
    err, submit);
    mount(this.root, authPage('First run', '', form));
  }

  showShell() {
    this.api.instance(); // what the server offers (email?), cached for the views
    this.view = h('main', { class: 'container', id: 'view' });
    const out = h('button', {
      class: 'btn ghost small', type: 'button', text: 'Sign out',
      onclick: async () => {
        out.disabled = true;
        try { await this.api.logout(); } catch { /* signed out locally anyway */ }
        this.me = null;
        this.stopView();
        this.abortUploads();
        this.showLogin('You have signed out.');
      },
    });
    mount(this.root,
      h('header', { class: 'topbar' },
        h('a', { class: 'brand', href: '#/' }, logo(), h('span', { text: 'PhotoVault' })),
        h('span', { class: 'spacer' }),
        h('span', { class: 'user muted', text: this.me && this.me.username ? this.me.username : '' }),
        out),
      this.view);
    this.route();
  }

  /** Renders the view for location.hash. */
  route() {
    this.stopView();
    const seq = ++this.renderSeq;
    const ctx = {
      api: this.api,
      el: this.view,
      uploads: this.uploads,
      /** true while this render is still the current one */
      live: () => seq === this.renderSeq && this.me !== null,
      onCleanup: (fn) => { const prev = this.cleanup; this.cleanup = () => { if (prev) prev(); fn(); }; },
    };
    const m = /^#\/albums\/([^/]+)(\/shares)?\/?$/.exec(location.hash);
    if (m) {
      let id;
      try { id = decodeURIComponent(m[1]); } catch { id = ''; }
      albumView(ctx, id, m[2] ? 'shares' : 'photos');
    } else {
      albumsView(ctx);
    }
    window.scrollTo(0, 0);
  }
}

/** @param {unknown} e */
function loginMessage(e) {
  if (e instanceof ApiError) {
    if (e.status === 401) return 'Wrong username or password.';
    if (e.status === 429) return `Too many attempts. Try again in ${e.retryAfter || 30} s.`;
  }
  return messageOf(e);
}

function logo() {
  return icon(ICONS.photo, 'icon logo');
}

/**
 * @param {string} title
 * @param {string|undefined} notice
 * @param {HTMLElement} form
 */
function authPage(title, notice, form) {
  return h('div', { class: 'center-page' },
    h('div', { class: 'card auth-card' },
      h('div', { class: 'brand big' }, logo(), h('span', { text: 'PhotoVault' })),
      h('h1', { text: title }),
      notice ? h('p', { class: 'notice', text: notice }) : null,
      form));
}

initToasts(); // the live region exists before its first message
const root = document.getElementById('app');
if (root) new App(root).start();
