// Owner API client and upload pipeline, driven through real objects with an
// in-test HTTP stand-in (the server is a separate package).
import test from 'node:test';
import assert from 'node:assert/strict';
import { OwnerAPI, readCookie } from '../src/owner/api.js';
import { UploadBatch, STATE, HASH_LIMIT, toHex, stateLabel } from '../src/owner/upload.js';
import { uploadErrorMessage, ApiError } from '../src/lib/http.js';

function jsonResponse(status, body, headers = {}) {
  return new Response(body === null ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

test('readCookie', () => {
  assert.equal(readCookie('a=1; pv_csrf=tok%3D; b=2', 'pv_csrf'), 'tok=');
  assert.equal(readCookie('xpv_csrf=1', 'pv_csrf'), '');
  assert.equal(readCookie('', 'pv_csrf'), '');
});

test('unsafe requests carry the CSRF header, safe ones do not', async () => {
  const seen = [];
  const api = new OwnerAPI({
    cookies: () => 'pv_csrf=c1',
    fetch: async (url, init) => { seen.push({ url, init }); return jsonResponse(200, { items: [] }); },
  });
  await api.albums();
  await api.createAlbum({ title: 't' });
  assert.equal(seen[0].init.headers['X-CSRF-Token'], undefined);
  assert.equal(seen[1].init.headers['X-CSRF-Token'], 'c1');
  assert.equal(seen[1].init.headers['Content-Type'], 'application/json');
  assert.equal(seen[1].init.credentials, 'same-origin');
});

test('login and refresh use cookie mode; a 401 refreshes once and retries', async () => {
  const calls = [];
  let authed = false;
  const api = new OwnerAPI({
    cookies: () => '__Host-pv_csrf=c2',
    fetch: async (url, init) => {
      calls.push([init.method, url, init.headers['X-PhotoVault-Cookie'] || '', init.body || '']);
      if (url === '/api/auth/refresh') { authed = true; return jsonResponse(200, {}); }
      if (url === '/api/auth/me') return authed ? jsonResponse(200, { username: 'o' }) : jsonResponse(401, { error: 'unauthorized' });
      return jsonResponse(200, {});
    },
  });
  await api.login('o', 'secret');
  assert.deepEqual(calls[0].slice(0, 3), ['POST', '/api/auth/login', '1']);
  assert.equal((await api.me()).username, 'o');
  assert.deepEqual(calls.slice(1).map((c) => c.slice(0, 3)), [
    ['GET', '/api/auth/me', ''], ['POST', '/api/auth/refresh', '1'], ['GET', '/api/auth/me', ''],
  ]);
  assert.equal(calls[2][3], '{}', 'refresh posts an empty JSON body');
});

test('parallel 401s share one refresh (a reused refresh token would revoke the family)', async () => {
  let refreshes = 0; let ok = false;
  const signedOut = [];
  const api = new OwnerAPI({
    cookies: () => 'pv_csrf=x',
    onSignedOut: () => signedOut.push(1),
    fetch: async (url) => {
      if (url === '/api/auth/refresh') { refreshes++; await new Promise((r) => setTimeout(r, 10)); ok = true; return jsonResponse(200, {}); }
      return ok ? jsonResponse(200, { items: [] }) : jsonResponse(401, null);
    },
  });
  await Promise.all([api.albums(), api.shares(), api.albums()]);
  assert.equal(refreshes, 1);
  assert.equal(signedOut.length, 0);
});

test('a failed refresh signs out and surfaces 401', async () => {
  const signedOut = [];
  const api = new OwnerAPI({
    cookies: () => '',
    onSignedOut: () => signedOut.push(1),
    fetch: async () => jsonResponse(401, { error: 'unauthorized', message: 'no' }),
  });
  await assert.rejects(api.albums(), (e) => e instanceof ApiError && e.status === 401);
  assert.equal(signedOut.length, 1);
});

test('429 carries Retry-After; network failures become status 0', async () => {
  const api = new OwnerAPI({ cookies: () => '', fetch: async () => jsonResponse(429, { error: 'rate_limited' }, { 'Retry-After': '17' }) });
  await assert.rejects(api.login('a', 'b'), (e) => e.status === 429 && e.retryAfter === 17);
  const down = new OwnerAPI({ cookies: () => '', fetch: async () => { throw new TypeError('fetch failed'); } });
  await assert.rejects(down.albums(), (e) => e.status === 0);
});

test('instance() asks the server once and keeps the answer; a failure is null and asked again', async () => {
  const calls = [];
  let fail = true;
  const api = new OwnerAPI({
    cookies: () => '',
    fetch: async (url, init) => {
      calls.push([init.method, url]);
      if (fail) throw new TypeError('fetch failed');
      return jsonResponse(200, { version: '1.2.3', mail: false, public_url: 'https://photos.example' });
    },
  });
  assert.equal(await api.instance(), null, 'a failed request resolves to null, never rejects');
  fail = false;
  const [a, b] = await Promise.all([api.instance(), api.instance()]);
  assert.deepEqual(a, { version: '1.2.3', mail: false, public_url: 'https://photos.example' });
  assert.equal(a, b);
  await api.instance();
  assert.deepEqual(calls, [['GET', '/api/instance'], ['GET', '/api/instance']]);
});

function fakeFiles(n, size = 100) {
  return Array.from({ length: n }, (_, i) => ({ name: `f${i}.jpg`, size }));
}

test('upload batch skips known content, uploads the rest two at a time', async () => {
  const files = fakeFiles(9);
  const known = new Set(['h1', 'h4']);
  let inFlight = 0; let peak = 0; const sent = []; const lookups = [];
  const batch = new UploadBatch({
    files,
    hash: async (f) => `h${f.name.slice(1, -4)}`,
    lookup: async (hashes) => { lookups.push(hashes.length); return new Set(hashes.filter((h) => known.has(h))); },
    send: async (it, onProgress) => {
      inFlight++; peak = Math.max(peak, inFlight);
      onProgress(50);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      sent.push(it.file.name);
      if (it.file.name === 'f2.jpg') return { status: 413, body: { error: 'too_large' } };
      if (it.file.name === 'f3.jpg') return { status: 415, body: null };
      if (it.file.name === 'f5.jpg') return { status: 422, body: null };
      if (it.file.name === 'f6.jpg') return { status: 201, body: { items: [{ id: 'm6', duplicate: true }] } };
      return { status: 201, body: { items: [{ id: `m${it.index}` }] } };
    },
    errorMessage: uploadErrorMessage,
    lookupBatch: 5,
  });
  const items = await batch.run();
  assert.equal(peak, 2, 'two uploads in parallel, never more');
  assert.deepEqual(lookups, [4, 5], 'a small first lookup, then full groups');
  assert.ok(!sent.includes('f1.jpg') && !sent.includes('f4.jpg'));
  assert.equal(sent.length, 7);
  const by = Object.fromEntries(items.map((it) => [it.file.name, it]));
  assert.equal(by['f1.jpg'].state, STATE.SKIPPED);
  assert.equal(by['f0.jpg'].state, STATE.DONE);
  assert.equal(by['f0.jpg'].media.id, 'm0');
  assert.equal(by['f6.jpg'].state, STATE.DUPLICATE);
  assert.match(by['f2.jpg'].error, /too large/i);
  assert.match(by['f3.jpg'].error, /not a photo/i);
  assert.match(by['f5.jpg'].error, /too many pixels/i);
  assert.equal(stateLabel(by['f2.jpg']), by['f2.jpg'].error);
  const p = batch.progress();
  assert.equal(p.fraction, 1);
  assert.equal(p.finished, 9);
});

test('known content elsewhere is still uploaded when skipKnown says so', async () => {
  const sent = [];
  const batch = new UploadBatch({
    files: fakeFiles(2),
    hash: async (f) => f.name,
    lookup: async (h) => new Set(h),
    skipKnown: (sha) => sha === 'f0.jpg',
    send: async (it) => { sent.push(it.file.name); return { status: 201, body: { items: [{ id: 'x' }] } }; },
    errorMessage: uploadErrorMessage,
  });
  await batch.run();
  assert.deepEqual(sent, ['f1.jpg']);
});

test('huge files are not hashed; no WebCrypto means no lookup; lookup failure uploads all', async () => {
  const hashed = [];
  const big = { name: 'big.mov', size: HASH_LIMIT + 1 };
  const b1 = new UploadBatch({
    files: [big, { name: 'small.jpg', size: 10 }],
    hash: async (f) => { hashed.push(f.name); return 'aa'; },
    lookup: async () => { throw new Error('down'); },
    send: async () => ({ status: 201, body: { items: [{ id: 'm' }] } }),
    errorMessage: uploadErrorMessage,
  });
  const items = await b1.run();
  assert.deepEqual(hashed, ['small.jpg']);
  assert.ok(items.every((it) => it.state === STATE.DONE));

  let lookups = 0;
  const b2 = new UploadBatch({
    files: fakeFiles(3), hash: null,
    lookup: async () => { lookups++; return new Set(); },
    send: async () => ({ status: 0, body: null }),
    errorMessage: uploadErrorMessage,
  });
  const r2 = await b2.run();
  assert.equal(lookups, 0);
  assert.ok(r2.every((it) => it.state === STATE.FAILED && /network/i.test(it.error)));
});

test('cancel stops queued files', async () => {
  let sent = 0;
  const batch = new UploadBatch({
    files: fakeFiles(10), hash: null, lookup: async () => new Set(),
    send: async () => { sent++; await new Promise((r) => setTimeout(r, 5)); return { status: 201, body: { items: [{ id: 'x' }] } }; },
    errorMessage: uploadErrorMessage,
  });
  const run = batch.run();
  await new Promise((r) => setTimeout(r, 1));
  batch.cancel();
  const items = await run;
  assert.ok(sent <= 2, `sent ${sent}`);
  assert.ok(items.filter((it) => it.state === STATE.CANCELLED).length >= 8);
});

test('toHex', () => {
  assert.equal(toHex(new Uint8Array([0, 15, 255])), '000fff');
});
