// One album: header, photos (grid, upload, delete) and the client-links tab.
import { h, mount, modal, icon, ICONS, confirmDialog, toast } from '../lib/dom.js';
import { ApiError, messageOf, parseJSON, uploadErrorMessage } from '../lib/http.js';
import { formatBytes, formatDateTime, plural } from '../lib/format.js';
import { mediaURL } from './api.js';
import { albumForm } from './albums.js';
import { UploadBatch, STATE, stateLabel, browserHasher } from './upload.js';
import { sharesPanel } from './shares.js';

/**
 * @typedef {object} ViewCtx
 * @property {import('./api.js').OwnerAPI} api
 * @property {HTMLElement} el
 * @property {() => boolean} live
 * @property {(fn: () => void) => void} onCleanup
 * @property {Map<string, UploadView>} uploads running uploads by album id (owned by the app)
 */

/**
 * Renders album id into ctx.el with the given tab.
 * @param {ViewCtx} ctx
 * @param {string} id
 * @param {'photos'|'shares'} tab
 */
export async function albumView(ctx, id, tab) {
  mount(ctx.el, h('div', { class: 'spinner' }));
  let album;
  try {
    album = await ctx.api.album(id);
  } catch (e) {
    if (!ctx.live()) return;
    mount(ctx.el, backLink(), h('div', { class: 'empty' },
      h('h2', { text: e instanceof ApiError && (e.status === 404 || e.status === 403) ? 'Album not found' : 'Could not load the album' }),
      h('p', { class: 'muted', text: messageOf(e) })));
    return;
  }
  if (!ctx.live()) return;

  const title = h('h1', { text: album.title || 'Untitled album' });
  const desc = h('p', { class: 'muted pre', text: album.description || '' });
  const rename = h('button', {
    class: 'btn ghost small', type: 'button',
    onclick: async () => {
      const updated = await albumForm('Edit album', 'Save', { title: album.title || '', description: album.description || '' },
        (v) => ctx.api.updateAlbum(album.id, v));
      if (updated) {
        album = { ...album, ...updated };
        title.textContent = album.title || 'Untitled album';
        desc.textContent = album.description || '';
      }
    },
  }, icon(ICONS.pencil), h('span', { text: 'Edit' }));
  const del = h('button', {
    class: 'btn ghost small danger-text', type: 'button',
    onclick: async () => {
      const ok = await confirmDialog('Delete this album?',
        `“${album.title || 'Untitled album'}” and its ${plural((album.media || []).length, 'photo')} will be deleted, and every client link to it stops working at once. This cannot be undone.`,
        'Delete album', true);
      if (!ok) return;
      try {
        await ctx.api.deleteAlbum(album.id);
        toast('Album deleted.');
        location.hash = '#/';
      } catch (e) { toast(messageOf(e), 'error'); }
    },
  }, icon(ICONS.trash), h('span', { text: 'Delete' }));

  const base = `#/albums/${encodeURIComponent(album.id)}`;
  const count = h('span', { class: 'count', text: String((album.media || []).length) });
  const tabs = h('nav', { class: 'tabs', attrs: { 'aria-label': 'Album sections' } },
    h('a', { href: base, attrs: tab === 'photos' ? { 'aria-current': 'page' } : {} }, 'Photos ', count),
    h('a', { href: `${base}/shares`, attrs: tab === 'shares' ? { 'aria-current': 'page' } : {} }, 'Client links'));
  const panel = h('section', { class: 'panel' });
  mount(ctx.el, backLink(),
    h('div', { class: 'page-head' }, h('div', { class: 'grow' }, title, desc), h('div', { class: 'row' }, rename, del)),
    tabs, panel);

  if (tab === 'shares') sharesPanel(ctx, panel, album);
  else photosPanel(ctx, panel, album, (n) => { count.textContent = String(n); });
}

function backLink() {
  return h('a', { class: 'back', href: '#/' }, icon(ICONS.back), h('span', { text: 'Albums' }));
}

/**
 * The photos tab: drop zone, upload progress and the media grid.
 * @param {ViewCtx} ctx
 * @param {HTMLElement} panel
 * @param {any} album
 * @param {(n: number) => void} setCount
 */
function photosPanel(ctx, panel, album, setCount) {
  /** @type {Map<string, any>} */
  const media = new Map((album.media || []).map((m) => [m.id, m]));
  /** @type {Map<string, HTMLElement>} */
  const tiles = new Map();
  const grid = h('div', { class: 'media-grid' });
  const empty = h('p', { class: 'muted empty-note', text: 'No photos yet. Drop some here.' });
  const uploads = h('div', { class: 'uploads' });
  let pollTimer = 0;
  let pollDelay = 2500;
  let stopped = false;
  // A running upload outlives this panel (switching tabs must not cancel it):
  // it is kept per album by the app and re-attached here.
  let activeBatch = ctx.uploads.get(album.id) || null;
  ctx.onCleanup(() => {
    stopped = true;
    clearTimeout(pollTimer);
    if (activeBatch) activeBatch.detach();
  });

  const tileFor = (m) => {
    const del = h('button', {
      class: 'tile-btn', type: 'button', title: 'Delete', attrs: { 'aria-label': `Delete ${m.filename || 'photo'}` },
      onclick: async (e) => {
        e.stopPropagation();
        const ok = await confirmDialog('Delete this photo?', `“${m.filename || 'photo'}” will be removed from the album and from every client link.`, 'Delete', true);
        if (!ok) return;
        try {
          await ctx.api.deleteMedia(m.id);
          media.delete(m.id);
          const t = tiles.get(m.id); if (t) t.remove();
          tiles.delete(m.id);
          refreshCount();
        } catch (ex) { toast(messageOf(ex), 'error'); }
      },
    }, icon(ICONS.trash));
    let body;
    if (m.status === 'ready' || !m.status) {
      body = h('button', { class: 'tile-open', type: 'button', title: m.filename || '', onclick: () => showPreview(m) },
        h('img', { src: mediaURL.thumb(m.id), alt: m.filename || '', loading: 'lazy', decoding: 'async', onerror: (e) => e.target.classList.add('broken') }));
    } else if (m.status === 'failed') {
      body = h('div', { class: 'placeholder failed' }, h('span', { text: 'Could not process' }), h('small', { text: m.filename || '' }));
    } else {
      body = h('div', { class: 'placeholder' }, h('div', { class: 'spinner small' }), h('span', { text: 'Processing…' }), h('small', { text: m.filename || '' }));
    }
    return h('figure', { class: 'tile', dataset: { status: m.status || 'ready' } }, body, del);
  };

  const refreshCount = () => {
    setCount(media.size);
    empty.hidden = media.size > 0;
  };

  const renderGrid = () => {
    const sorted = [...media.values()];
    const next = sorted.map((m) => {
      let t = tiles.get(m.id);
      if (!t || t.dataset.status !== (m.status || 'ready')) { t = tileFor(m); tiles.set(m.id, t); }
      return t;
    });
    mount(grid, next);
    refreshCount();
    schedulePoll();
  };

  const schedulePoll = () => {
    clearTimeout(pollTimer);
    if (stopped || ![...media.values()].some((m) => m.status === 'processing')) { pollDelay = 2500; return; }
    pollTimer = setTimeout(poll, pollDelay);
  };

  const poll = async () => {
    if (stopped || !ctx.live()) return;
    pollDelay = Math.min(15000, Math.round(pollDelay * 1.3));
    try {
      const fresh = await ctx.api.album(album.id);
      if (stopped || !ctx.live()) return;
      // Keep the server's order (capture time, then name).
      media.clear();
      for (const m of fresh.media || []) media.set(m.id, m);
      for (const id of [...tiles.keys()]) if (!media.has(id)) tiles.delete(id);
      renderGrid();
    } catch {
      schedulePoll();
    }
  };

  const addFiles = async (files) => {
    const list = files.filter((f) => f.size > 0 && !f.name.startsWith('.'));
    if (!list.length) return;
    if (activeBatch) { activeBatch.add(list); return; }
    activeBatch = new UploadView(ctx, album, list);
    ctx.uploads.set(album.id, activeBatch);
    attach();
  };

  const attach = () => {
    activeBatch.attach({
      host: uploads,
      onMedia: (m) => { if (m && m.id && !media.has(m.id)) { media.set(m.id, m); renderGrid(); } },
      onDone: () => {
        ctx.uploads.delete(album.id);
        activeBatch = null;
        if (!stopped) poll();
      },
      albumHashes: () => new Set([...media.values()].map((m) => m.sha256).filter(Boolean)),
    });
  };

  const picker = h('input', {
    type: 'file', multiple: true, class: 'visually-hidden', accept: 'image/*,video/*,.heic,.heif,.dng,.cr2,.cr3,.nef,.arw,.raf,.orf,.rw2',
    onchange: () => { addFiles([...picker.files]); picker.value = ''; },
  });
  const drop = h('div', { class: 'dropzone' },
    icon(ICONS.upload, 'icon big'),
    h('p', {}, h('strong', { text: 'Drop photos or folders here' }), h('br'), h('span', { class: 'muted', text: 'or' })),
    h('label', { class: 'btn primary' }, picker, h('span', { text: 'Choose files' })));

  // The whole panel accepts drops; the zone lights up while dragging.
  let depth = 0;
  panel.addEventListener('dragenter', (e) => { if (hasFiles(e)) { depth++; drop.classList.add('over'); e.preventDefault(); } });
  panel.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) drop.classList.remove('over'); });
  panel.addEventListener('dragover', (e) => { if (hasFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; } });
  panel.addEventListener('drop', async (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0; drop.classList.remove('over');
    addFiles(await filesFromDrop(e.dataTransfer));
  });

  mount(panel, drop, uploads, empty, grid);
  if (activeBatch) attach();
  renderGrid();
}

/** @param {DragEvent} e */
function hasFiles(e) {
  return !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
}

/**
 * Files from a drop, walking dropped folders.
 * @param {DataTransfer} dt
 * @returns {Promise<File[]>}
 */
async function filesFromDrop(dt) {
  const entries = [...dt.items || []].map((it) => (it.webkitGetAsEntry ? it.webkitGetAsEntry() : null));
  if (!entries.length || entries.some((e) => !e)) return [...dt.files];
  const out = [];
  const walk = async (entry, depth) => {
    if (entry.isFile) {
      out.push(await new Promise((res, rej) => entry.file(res, rej)));
    } else if (entry.isDirectory && depth < 8) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const child of batch) await walk(child, depth + 1);
      }
    }
  };
  try {
    for (const e of entries) await walk(e, 0);
  } catch {
    return [...dt.files];
  }
  return out;
}

/**
 * Uploads one file with XMLHttpRequest (fetch has no upload progress),
 * repeating once after a session refresh on 401.
 * @param {import('./api.js').OwnerAPI} api
 * @param {string} albumId
 * @param {File} file
 * @param {(loaded: number) => void} onProgress
 * @param {Set<XMLHttpRequest>} inflight
 * @returns {Promise<{status: number, body: any}>}
 */
async function xhrUpload(api, albumId, file, onProgress, inflight) {
  const once = () => new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    inflight.add(xhr);
    xhr.open('POST', `/api/albums/${encodeURIComponent(albumId)}/media`);
    const csrf = api.csrf();
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => onProgress(e.loaded * (file.size / (e.total || file.size || 1)));
    const done = (status) => { inflight.delete(xhr); resolve({ status, body: parseJSON(xhr.responseText) }); };
    xhr.onload = () => done(xhr.status);
    xhr.onerror = () => done(0);
    xhr.onabort = () => done(0);
    const fd = new FormData();
    fd.append('file', file, file.name);
    xhr.send(fd);
  });
  let res = await once();
  if (res.status === 401 && await api.refresh()) {
    onProgress(0);
    res = await once();
  }
  if (res.status === 401) api.onSignedOut();
  return res;
}

/**
 * The upload of one album: its batches and its progress box. More files may
 * join while it runs. It is attached to the album's photos panel while that
 * is shown and keeps running, detached, while the owner looks elsewhere.
 */
export class UploadView {
  /**
   * @param {ViewCtx} ctx
   * @param {any} album
   * @param {File[]} files
   */
  constructor(ctx, album, files) {
    this.ctx = ctx;
    this.album = album;
    this.detach();
    this.done = false;
    /** @type {Set<XMLHttpRequest>} */
    this.inflight = new Set();
    /** @type {File[]} files added while running */
    this.pending = [];
    this.batches = [];
    this.rows = new Map();
    this.list = h('ul', { class: 'upload-list' });
    this.bar = h('progress', { max: 1, value: 0, class: 'overall' });
    this.summary = h('span', { class: 'muted' });
    this.cancelBtn = h('button', { class: 'btn ghost small', type: 'button', text: 'Cancel', onclick: () => this.cancel() });
    this.closeBtn = h('button', { class: 'btn ghost small', type: 'button', text: 'Close', hidden: true, onclick: () => this.box.remove() });
    this.box = h('section', { class: 'card upload-box', attrs: { 'aria-live': 'polite' } },
      h('div', { class: 'row' }, h('strong', { class: 'grow', text: 'Uploading' }), this.summary, this.cancelBtn, this.closeBtn),
      this.bar, this.list);
    this.running = this.loop(files);
  }

  /**
   * Shows the progress box in host and routes events to the panel's callbacks.
   * @param {{host: HTMLElement, onMedia: (m: any) => void, onDone: () => void, albumHashes: () => Set<string>}} b
   */
  attach(b) {
    Object.assign(this, b);
    mount(b.host, this.box);
  }

  /** Unhooks the panel that is going away; uploads go on. */
  detach() {
    if (this.box) this.box.remove();
    this.onMedia = () => {};
    this.onDone = () => {};
    const known = this.albumHashes ? this.albumHashes() : new Set();
    this.albumHashes = () => known;
  }

  /** True while files are being hashed or sent. */
  get active() { return !this.done; }

  /** @param {File[]} files */
  add(files) { this.pending.push(...files); }

  abortAll() {
    for (const b of this.batches) b.cancel();
    for (const x of this.inflight) x.abort();
  }

  cancel() {
    this.cancelled = true;
    this.pending = [];
    this.abortAll();
  }

  /** @param {File[]} first */
  async loop(first) {
    let files = first;
    const hasher = browserHasher();
    while (files.length) {
      const batch = new UploadBatch({
        files,
        hash: hasher,
        lookup: (hashes) => this.ctx.api.lookup(hashes),
        // A known content is skipped only when it is already in this album;
        // content the owner has elsewhere is still added here.
        skipKnown: (sha) => this.albumHashes().has(sha),
        send: (it, onProgress) => xhrUpload(this.ctx.api, this.album.id, /** @type {File} */ (it.file), onProgress, this.inflight),
        errorMessage: uploadErrorMessage,
        concurrency: 2,
        onChange: (it) => this.update(batch, it),
      });
      this.batches.push(batch);
      for (const it of batch.items) this.list.appendChild(this.row(batch, it));
      this.update(batch, null);
      await batch.run();
      files = this.pending.splice(0);
    }
    this.finish();
  }

  /** @param {UploadBatch} batch @param {any} it */
  row(batch, it) {
    const bar = h('progress', { max: it.file.size || 1, value: 0 });
    const state = h('span', { class: 'state' });
    const li = h('li', { class: 'upload-row' },
      h('span', { class: 'name', text: it.file.name, title: it.file.name }),
      h('span', { class: 'size muted', text: formatBytes(it.file.size) }),
      bar, state);
    const key = `${this.batches.indexOf(batch)}:${it.index}`;
    this.rows.set(key, { li, bar, state });
    this.paint(batch, it);
    return li;
  }

  /** @param {UploadBatch} batch @param {any} it */
  paint(batch, it) {
    const r = this.rows.get(`${this.batches.indexOf(batch)}:${it.index}`);
    if (!r) return;
    r.bar.value = Math.min(it.loaded, it.file.size || 1);
    if ([STATE.DONE, STATE.DUPLICATE, STATE.SKIPPED].includes(it.state)) r.bar.value = it.file.size || 1;
    r.state.textContent = stateLabel(it);
    r.li.dataset.state = it.state;
  }

  /** @param {UploadBatch} batch @param {any} it */
  update(batch, it) {
    if (it) {
      this.paint(batch, it);
      if ((it.state === STATE.DONE || it.state === STATE.DUPLICATE) && it.media && !it.mediaShown) {
        it.mediaShown = true;
        this.onMedia({ ...it.media, status: it.media.status || 'processing' });
      }
    }
    let total = 0; let loaded = 0; let finished = 0; let count = 0; let failed = 0;
    for (const b of this.batches) {
      const p = b.progress();
      total += p.total; loaded += p.loaded; finished += p.finished; count += p.count;
      failed += p.counts[STATE.FAILED] || 0;
    }
    this.bar.max = total || 1;
    this.bar.value = loaded;
    this.summary.textContent = `${finished} of ${count} · ${formatBytes(loaded)} of ${formatBytes(total)}${failed ? ` · ${failed} failed` : ''}`;
  }

  finish() {
    let failed = 0; let done = 0; let skipped = 0;
    for (const b of this.batches) {
      for (const it of b.items) {
        if (it.state === STATE.FAILED) failed++;
        else if (it.state === STATE.DONE) done++;
        else if (it.state === STATE.SKIPPED || it.state === STATE.DUPLICATE) skipped++;
      }
    }
    if (this.ctx.uploads.get(this.album.id) === this) this.ctx.uploads.delete(this.album.id);
    this.box.querySelector('strong').textContent = this.cancelled ? 'Upload cancelled' : failed ? 'Upload finished with errors' : 'Upload complete';
    this.cancelBtn.hidden = true;
    this.closeBtn.hidden = false;
    // Keep only the rows that need attention.
    for (const { li } of this.rows.values()) if (li.dataset.state !== STATE.FAILED) li.remove();
    const summary = `${plural(done, 'photo')} uploaded${skipped ? `, ${skipped} already there` : ''}${failed ? `, ${failed} failed` : ''}`;
    toast(this.cancelled ? `Upload cancelled: ${summary}.` : `${summary}.`, failed ? 'error' : 'info');
    if (!failed) setTimeout(() => this.box.remove(), 4000);
    this.done = true;
    this.onDone();
  }
}

/**
 * Shows the preview of one photo with its details.
 * @param {any} m media
 */
function showPreview(m) {
  modal((close) => h('div', { class: 'preview' },
    h('button', { class: 'icon-btn close', type: 'button', attrs: { 'aria-label': 'Close' }, onclick: () => close() }, icon(ICONS.close)),
    h('img', { src: mediaURL.preview(m.id), alt: m.filename || '', decoding: 'async' }),
    h('div', { class: 'row wrap preview-meta' },
      h('strong', { class: 'grow', text: m.filename || '' }),
      m.width && m.height ? h('span', { class: 'muted', text: `${m.width} × ${m.height}` }) : null,
      m.size ? h('span', { class: 'muted', text: formatBytes(m.size) }) : null,
      m.camera ? h('span', { class: 'muted', text: m.camera }) : null,
      m.taken_at ? h('span', { class: 'muted', text: formatDateTime(m.taken_at) }) : null,
      h('a', { class: 'btn small', href: mediaURL.original(m.id), download: m.filename || '' }, icon(ICONS.download), h('span', { text: 'Original' })))),
  'wide');
}
