// Bulk upload pipeline: hash each file in the browser, ask the server which
// contents it already has (resume), then upload the rest one file per request
// with a small number in flight. No DOM here: the transport and the hash are
// injected, so the pipeline is unit-tested in node.

/** Files larger than this are not hashed (crypto.subtle.digest reads the whole file into memory). */
export const HASH_LIMIT = 512 * 1024 * 1024;

/** Upload states an item moves through. */
export const STATE = Object.freeze({
  QUEUED: 'queued',
  HASHING: 'hashing',
  WAITING: 'waiting',
  UPLOADING: 'uploading',
  DONE: 'done',
  DUPLICATE: 'duplicate',
  SKIPPED: 'skipped',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
});

const FINAL = new Set([STATE.DONE, STATE.DUPLICATE, STATE.SKIPPED, STATE.FAILED, STATE.CANCELLED]);

/**
 * @typedef {object} UploadItem
 * @property {number} index
 * @property {File|{name: string, size: number}} file
 * @property {string} state one of STATE
 * @property {number} loaded bytes sent so far
 * @property {string} [sha256] hex digest when computed
 * @property {string} [error] human message when failed
 * @property {any} [media] the server's media object when uploaded
 */

/**
 * @typedef {object} SendResult
 * @property {number} status HTTP status (0 for a network failure)
 * @property {any} body parsed JSON body or null
 */

/** One batch of files going into one album. */
export class UploadBatch {
  /**
   * @param {object} o
   * @param {Array<File|{name: string, size: number}>} o.files
   * @param {((file: any) => Promise<string>)|null} o.hash hex SHA-256 or null when hashing is unavailable
   * @param {(hashes: string[]) => Promise<Set<string>>} o.lookup which hashes the server knows
   * @param {(item: UploadItem, onProgress: (loaded: number) => void) => Promise<SendResult>} o.send
   * @param {(status: number, body: any) => string} o.errorMessage
   * @param {(sha: string) => boolean} [o.skipKnown] decides whether a known hash is skipped (default: always)
   * @param {number} [o.concurrency] uploads in flight (default 2)
   * @param {number} [o.lookupBatch] hashes per lookup request (default 50)
   * @param {(item: UploadItem|null) => void} [o.onChange] called after every change
   */
  constructor(o) {
    /** @type {UploadItem[]} */
    this.items = o.files.map((file, index) => ({ index, file, state: STATE.QUEUED, loaded: 0 }));
    this.hash = o.hash;
    this.lookup = o.lookup;
    this.send = o.send;
    this.errorMessage = o.errorMessage;
    this.skipKnown = o.skipKnown || (() => true);
    this.concurrency = Math.max(1, o.concurrency || 2);
    this.lookupBatch = Math.max(1, o.lookupBatch || 50);
    this.onChange = o.onChange || (() => {});
    this.cancelled = false;
    /** @type {UploadItem[]} */
    this.ready = [];
    this.hashingDone = false;
    /** @type {Array<() => void>} */
    this.waiters = [];
  }

  /** Totals for the overall progress bar; finished items count as fully sent. */
  progress() {
    let total = 0; let loaded = 0; const counts = {};
    for (const it of this.items) {
      const size = it.file.size || 0;
      total += size;
      loaded += FINAL.has(it.state) ? size : Math.min(it.loaded, size);
      counts[it.state] = (counts[it.state] || 0) + 1;
    }
    const finished = this.items.filter((it) => FINAL.has(it.state)).length;
    return { total, loaded, finished, count: this.items.length, counts, fraction: total ? loaded / total : (finished === this.items.length ? 1 : 0) };
  }

  /** Stops the batch: queued items are cancelled; in-flight sends are left to the caller to abort. */
  cancel() {
    this.cancelled = true;
    for (const it of this.items) {
      if (!FINAL.has(it.state) && it.state !== STATE.UPLOADING) this.set(it, STATE.CANCELLED);
    }
    this.wake();
  }

  /**
   * Runs the whole batch; resolves when every item is final.
   * @returns {Promise<UploadItem[]>}
   */
  async run() {
    const workers = [];
    for (let i = 0; i < this.concurrency; i++) workers.push(this.worker());
    await this.prepare();
    await Promise.all(workers);
    return this.items;
  }

  /** @param {UploadItem} it @param {string} state @param {Partial<UploadItem>} [extra] */
  set(it, state, extra) {
    it.state = state;
    if (extra) Object.assign(it, extra);
    this.onChange(it);
  }

  wake() {
    const w = this.waiters; this.waiters = [];
    for (const f of w) f();
  }

  /** Hashes and looks up files in groups, feeding the upload queue as it goes. */
  async prepare() {
    // A small first group lets the first uploads start while the rest hash.
    let start = 0; let size = Math.min(4, this.lookupBatch);
    while (start < this.items.length && !this.cancelled) {
      const group = this.items.slice(start, start + size);
      start += size; size = this.lookupBatch;
      const hashes = [];
      for (const it of group) {
        if (this.cancelled) break;
        if (!this.hash || (it.file.size || 0) > HASH_LIMIT) continue;
        this.set(it, STATE.HASHING);
        try {
          it.sha256 = await this.hash(it.file);
          hashes.push(it.sha256);
        } catch {
          it.sha256 = undefined; // unreadable here: let the server decide
        }
        this.set(it, STATE.WAITING);
      }
      let known = new Set();
      if (hashes.length && !this.cancelled) {
        try { known = await this.lookup(hashes); } catch { known = new Set(); }
      }
      for (const it of group) {
        if (it.state === STATE.CANCELLED) continue;
        if (it.sha256 && known.has(it.sha256) && this.skipKnown(it.sha256)) {
          this.set(it, STATE.SKIPPED, { loaded: it.file.size || 0 });
        } else {
          if (it.state !== STATE.WAITING) this.set(it, STATE.WAITING);
          this.ready.push(it);
        }
      }
      this.wake();
    }
    this.hashingDone = true;
    this.wake();
  }

  /** One upload lane: takes ready items until the batch is done. */
  async worker() {
    for (;;) {
      if (this.cancelled) return;
      const it = this.ready.shift();
      if (!it) {
        if (this.hashingDone) return;
        await new Promise((resolve) => this.waiters.push(resolve));
        continue;
      }
      if (it.state === STATE.CANCELLED) continue;
      this.set(it, STATE.UPLOADING, { loaded: 0 });
      let res;
      try {
        res = await this.send(it, (loaded) => { it.loaded = loaded; this.onChange(it); });
      } catch {
        res = { status: 0, body: null };
      }
      if (this.cancelled && res.status === 0) {
        this.set(it, STATE.CANCELLED);
      } else if (res.status >= 200 && res.status < 300) {
        const media = res.body && Array.isArray(res.body.items) ? res.body.items[0] : undefined;
        this.set(it, media && media.duplicate ? STATE.DUPLICATE : STATE.DONE, { media, loaded: it.file.size || 0 });
      } else {
        this.set(it, STATE.FAILED, { error: this.errorMessage(res.status, res.body) });
      }
    }
  }
}

/** Human label of an item's state (the error text for failures). @param {UploadItem} it */
export function stateLabel(it) {
  switch (it.state) {
    case STATE.QUEUED: return 'Queued';
    case STATE.HASHING: return 'Checking…';
    case STATE.WAITING: return 'Waiting';
    case STATE.UPLOADING: return 'Uploading';
    case STATE.DONE: return 'Uploaded';
    case STATE.DUPLICATE: return 'Already in this album';
    case STATE.SKIPPED: return 'Already uploaded — skipped';
    case STATE.CANCELLED: return 'Cancelled';
    case STATE.FAILED: return it.error || 'Failed';
    default: return it.state;
  }
}

/**
 * Hex SHA-256 of a file with WebCrypto, or null when WebCrypto is not
 * available (plain-HTTP origins are not a secure context).
 * @returns {((file: Blob) => Promise<string>)|null}
 */
export function browserHasher() {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) return null;
  return async (file) => {
    const digest = await subtle.digest('SHA-256', await file.arrayBuffer());
    return toHex(new Uint8Array(digest));
  };
}

/** @param {Uint8Array} bytes */
export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
