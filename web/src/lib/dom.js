// Small DOM builder. User text only ever reaches the page through
// textContent / text nodes / properties, never through HTML parsing, so
// titles, filenames, client names and notes cannot inject markup (XSS).
// Inline style attributes are refused because the CSP forbids them; use
// element.style (CSSOM) or classes instead.

/**
 * Creates an element.
 * props: class, text, on{Event} (functions), dataset, attrs, or any DOM
 * property (type, value, href, src, disabled, ...).
 * @param {string} tag
 * @param {Record<string, any>|null} [props]
 * @param {...any} children strings, nodes, arrays, null/false (skipped)
 * @returns {HTMLElement}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') {
        el.className = value;
      } else if (key === 'text') {
        el.textContent = String(value);
      } else if (key === 'style' || key === 'innerHTML' || key === 'outerHTML') {
        throw new Error(`dom: ${key} is not allowed`);
      } else if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (key === 'dataset') {
        Object.assign(el.dataset, value);
      } else if (key === 'attrs') {
        for (const [name, v] of Object.entries(value)) {
          if (name === 'style' || /^on/i.test(name)) throw new Error(`dom: attribute ${name} is not allowed`);
          el.setAttribute(name, String(v));
        }
      } else if (key in el) {
        el[key] = value;
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

/**
 * Creates an SVG element (icons are built from path data, not markup).
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {...Element} children
 */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, v] of Object.entries(attrs)) el.setAttribute(name, v);
  for (const c of children) el.appendChild(c);
  return el;
}

/**
 * Returns a 24×24 stroke icon drawn from SVG path data.
 * @param {string} d path data
 * @param {string} [cls]
 */
export function icon(d, cls = 'icon') {
  return svg('svg', { viewBox: '0 0 24 24', class: cls, 'aria-hidden': 'true', focusable: 'false' },
    svg('path', { d }));
}

/** Icon path data used by both apps. */
export const ICONS = {
  heart: 'M12 20.5s-7.5-4.6-9.3-9.1C1.5 8.3 3.4 4.5 7 4.5c2.1 0 3.5 1.1 5 3 1.5-1.9 2.9-3 5-3 3.6 0 5.5 3.8 4.3 6.9-1.8 4.5-9.3 9.1-9.3 9.1z',
  download: 'M12 3v12m0 0-5-5m5 5 5-5M4 19h16',
  lock: 'M7 11V8a5 5 0 0 1 10 0v3M5 11h14v10H5z',
  close: 'M6 6l12 12M18 6 6 18',
  trash: 'M4 7h16M10 11v6m4-6v6M6 7l1 13h10l1-13M9 7V4h6v3',
  plus: 'M12 5v14M5 12h14',
  upload: 'M12 20V8m0 0-5 5m5-5 5 5M4 4h16',
  link: 'M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1',
  back: 'M15 5l-7 7 7 7',
  pencil: 'M4 20h4L19 9l-4-4L4 16v4zM13 7l4 4',
  photo: 'M4 5h16v14H4zM4 15l4-4 5 5 3-3 4 4M15 9.5a1 1 0 1 0 0-.01',
};

/**
 * Appends children (strings become text nodes).
 * @param {Node} parent
 * @param {any[]} children
 */
export function append(parent, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return parent;
}

/**
 * Replaces every child of parent.
 * @param {Element} parent
 * @param {...any} children
 */
export function mount(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/**
 * Reads a named form control's value, trimmed when it is text.
 * @param {HTMLFormElement} form
 * @param {string} name
 */
export function field(form, name) {
  const el = form.elements.namedItem(name);
  if (!el) return '';
  if (el.type === 'checkbox') return el.checked;
  return typeof el.value === 'string' && el.type !== 'password' ? el.value.trim() : el.value;
}

/**
 * Opens a modal <dialog> holding content and resolves when it closes.
 * build(close) returns the dialog content; close(value) closes with value.
 * @param {(close: (v?: any) => void) => any} build
 * @param {string} [cls]
 * @returns {Promise<any>}
 */
export function modal(build, cls = '') {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: `modal ${cls}`.trim() });
    let result;
    const close = (v) => { result = v; dlg.close(); };
    append(dlg, [build(close)]);
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    // A click on the backdrop closes; one on the dialog's own padding does not.
    dlg.addEventListener('click', (e) => {
      if (e.target !== dlg) return;
      const r = dlg.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) close(undefined);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    const first = dlg.querySelector('[autofocus], input, textarea, select, button');
    if (first) first.focus();
  });
}

/**
 * Asks a yes/no question in a modal; resolves true on confirm.
 * @param {string} title
 * @param {string} text
 * @param {string} [action] label of the confirming button
 * @param {boolean} [danger]
 */
export function confirmDialog(title, text, action = 'OK', danger = false) {
  return modal((close) => h('form', { class: 'stack', method: 'dialog', onsubmit: (e) => { e.preventDefault(); close(true); } },
    h('h2', { text: title }),
    h('p', { class: 'muted', text }),
    h('div', { class: 'row end' },
      h('button', { type: 'button', class: 'btn ghost', text: 'Cancel', onclick: () => close(false) }),
      h('button', { type: 'submit', class: danger ? 'btn danger' : 'btn primary', text: action, autofocus: true }))));
}

/**
 * The live region toasts are announced from. Screen readers announce changes
 * to a region they already know, so it is made once at startup (initToasts,
 * from each app's main.js) and stays in the body for the page's life; the
 * CSS keeps it above the PhotoSwipe lightbox.
 * @returns {HTMLElement|null} null before there is a body
 */
export function initToasts() {
  if (typeof document === 'undefined' || !document.body) return null;
  let host = document.getElementById('toasts');
  if (!host) {
    host = h('div', { id: 'toasts', class: 'toasts', attrs: { 'aria-live': 'polite' } });
    document.body.appendChild(host);
  }
  return host;
}

/**
 * Shows a transient message at the bottom of the screen, announced from the
 * live region made by initToasts.
 * @param {string} text
 * @param {'info'|'error'} [kind]
 */
export function toast(text, kind = 'info') {
  const host = initToasts(); // normally there already
  if (!host) return;
  const t = h('div', { class: `toast ${kind}`, text });
  host.appendChild(t);
  setTimeout(() => t.remove(), kind === 'error' ? 6000 : 3500);
}
