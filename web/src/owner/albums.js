// Albums grid: list, create.
import { h, mount, modal, field, icon, ICONS } from '../lib/dom.js';
import { messageOf } from '../lib/http.js';
import { formatDate, plural } from '../lib/format.js';
import { mediaURL } from './api.js';

/**
 * Renders the albums grid into ctx.el.
 * @param {{api: import('./api.js').OwnerAPI, el: HTMLElement, live: () => boolean}} ctx
 */
export async function albumsView(ctx) {
  const grid = h('div', { class: 'album-grid', attrs: { 'aria-busy': 'true' } });
  const newBtn = h('button', { class: 'btn primary', type: 'button', onclick: () => createAlbum(ctx) },
    icon(ICONS.plus), h('span', { text: 'New album' }));
  mount(ctx.el, h('div', { class: 'page-head' }, h('h1', { text: 'Albums' }), newBtn), grid);
  let albums;
  try {
    albums = await ctx.api.albums();
  } catch (e) {
    if (ctx.live()) mount(grid, h('p', { class: 'error', text: messageOf(e) }));
    return;
  }
  if (!ctx.live()) return;
  grid.removeAttribute('aria-busy');
  if (!albums.length) {
    mount(grid, h('div', { class: 'empty' },
      icon(ICONS.photo, 'icon huge'),
      h('h2', { text: 'No albums yet' }),
      h('p', { class: 'muted', text: 'Create an album, drop your photos in, and send your client a private link.' }),
      h('button', { class: 'btn primary', type: 'button', text: 'Create your first album', onclick: () => createAlbum(ctx) })));
    return;
  }
  albums.sort((a, b) => String(b.updated_at || b.created_at || '').localeCompare(String(a.updated_at || a.created_at || '')));
  mount(grid, albums.map(albumCard));
}

/** @param {any} a */
function albumCard(a) {
  const cover = a.cover_media_id
    ? h('img', {
      src: mediaURL.thumb(a.cover_media_id), alt: '', loading: 'lazy', decoding: 'async',
      onerror: (e) => e.target.replaceWith(h('div', { class: 'cover-empty' }, icon(ICONS.photo, 'icon big'))),
    })
    : h('div', { class: 'cover-empty' }, icon(ICONS.photo, 'icon big'));
  return h('a', { class: 'album-card', href: `#/albums/${encodeURIComponent(a.id)}` },
    h('div', { class: 'cover' }, cover),
    h('div', { class: 'album-meta' },
      h('h3', { text: a.title || 'Untitled album' }),
      h('span', { class: 'muted', text: `${plural(a.media_count || 0, 'photo')} · ${formatDate(a.updated_at || a.created_at)}` })));
}

/**
 * Asks for a title and description, then creates the album and opens it.
 * @param {{api: import('./api.js').OwnerAPI}} ctx
 */
export async function createAlbum(ctx) {
  const created = await albumForm('New album', 'Create album', { title: '', description: '' },
    (v) => ctx.api.createAlbum(v));
  if (created && created.id) location.hash = `#/albums/${encodeURIComponent(created.id)}`;
}

/**
 * A modal form for an album's title and description; save(v) is called on
 * submit and its errors are shown in the form. Resolves with save's result.
 * @param {string} heading
 * @param {string} action
 * @param {{title: string, description: string}} initial
 * @param {(v: {title: string, description: string}) => Promise<any>} save
 */
export function albumForm(heading, action, initial, save) {
  return modal((close) => {
    const err = h('p', { class: 'error', attrs: { role: 'alert' } });
    const btn = h('button', { class: 'btn primary', type: 'submit', text: action });
    const form = h('form', {
      class: 'stack',
      onsubmit: async (e) => {
        e.preventDefault();
        btn.disabled = true;
        err.textContent = '';
        try {
          close(await save({ title: field(form, 'title'), description: field(form, 'description') }));
        } catch (ex) {
          err.textContent = messageOf(ex);
          btn.disabled = false;
        }
      },
    },
    h('h2', { text: heading }),
    h('label', { class: 'field' }, h('span', { text: 'Title' }),
      h('input', { name: 'title', required: true, maxLength: 200, value: initial.title, autofocus: true })),
    h('label', { class: 'field' }, h('span', { text: 'Description (optional)' }),
      h('textarea', { name: 'description', rows: 3, maxLength: 2000, value: initial.description || '' })),
    err,
    h('div', { class: 'row end' },
      h('button', { class: 'btn ghost', type: 'button', text: 'Cancel', onclick: () => close(undefined) }),
      btn));
    return form;
  });
}

