// Builds the web UI into ../embed/dist (committed, so `go build` needs no node).
//   dist/index.html, dist/gallery.html   static shells (no inline script or style: strict CSP)
//   dist/assets/*                         content-hashed JS, CSS, icons, manifests
// Fails when the JS budget (gzip, excluding PhotoSwipe) is exceeded.
// `node build.mjs --check` builds into a temporary directory instead and fails
// when the committed embed/dist differs (CI: the committed UI matches its sources).
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const committed = path.resolve(here, '../embed/dist');
const checkOnly = process.argv.includes('--check');
const dist = checkOnly ? await fs.mkdtemp(path.join(os.tmpdir(), 'pv-dist-')) : committed;
const assets = path.join(dist, 'assets');
const JS_BUDGET_GZIP = 60 * 1024;

await fs.rm(dist, { recursive: true, force: true });
await fs.mkdir(assets, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { owner: 'src/owner/main.js', gallery: 'src/gallery/main.js' },
  bundle: true,
  format: 'esm',
  splitting: true,
  minify: true,
  sourcemap: false,
  target: ['es2020', 'chrome111', 'firefox113', 'safari16.4', 'edge111'],
  outdir: assets,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  charset: 'utf8',
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

/** public URL of a file under dist */
const urlOf = (abs) => `/${path.relative(dist, abs).split(path.sep).join('/')}`;
const shortHash = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, 10);

/** @type {Record<string, string>} logical /assets/ name → hashed URL */
const map = {};
/** @type {Record<string, string[]>} entry name → chunk URLs it imports statically */
const preloads = {};
const photoswipeFiles = new Set();

for (const [out, info] of Object.entries(result.metafile.outputs)) {
  const abs = path.resolve(here, out);
  if (Object.keys(info.inputs).some((i) => i.includes('node_modules/photoswipe/') && i.endsWith('.js'))) photoswipeFiles.add(abs);
  if (!info.entryPoint) continue;
  const name = path.basename(path.dirname(info.entryPoint)); // owner | gallery
  map[`/assets/${name}.js`] = urlOf(abs);
  if (info.cssBundle) map[`/assets/${name}.css`] = urlOf(path.resolve(here, info.cssBundle));
  preloads[name] = info.imports.filter((i) => i.kind === 'import-statement').map((i) => urlOf(path.resolve(here, i.path)));
}

// Static files: hashed names; manifests point at the hashed icon.
async function copyStatic(name, transform = (s) => s) {
  const src = await fs.readFile(path.join(here, 'src/static', name), 'utf8');
  const body = transform(src);
  const ext = path.extname(name);
  const hashed = `${path.basename(name, ext)}-${shortHash(body)}${ext}`;
  await fs.writeFile(path.join(assets, hashed), body);
  map[`/assets/${name}`] = `/assets/${hashed}`;
}
const rewrite = (s) => s.replace(/\/assets\/[A-Za-z0-9_.-]+/g, (ref) => {
  if (!map[ref]) throw new Error(`build: unmapped asset reference ${ref}`);
  return map[ref];
});
await copyStatic('favicon.svg');
await copyStatic('app.webmanifest', rewrite);
await copyStatic('gallery.webmanifest', rewrite);

for (const [page, entry] of [['index.html', 'owner'], ['gallery.html', 'gallery']]) {
  let html = await fs.readFile(path.join(here, 'src', page), 'utf8');
  html = rewrite(html);
  const links = (preloads[entry] || []).map((u) => `<link rel="modulepreload" href="${u}">`).join('\n');
  if (links) html = html.replace('<script type="module"', `${links}\n<script type="module"`);
  await fs.writeFile(path.join(dist, page), html);
}

// Size report and budget.
let jsGzip = 0;
const rows = [];
for (const dirent of await fs.readdir(assets)) {
  const abs = path.join(assets, dirent);
  const buf = await fs.readFile(abs);
  const gz = zlib.gzipSync(buf, { level: 9 }).length;
  const ps = photoswipeFiles.has(abs);
  if (dirent.endsWith('.js') && !ps) jsGzip += gz;
  rows.push(`${dirent.padEnd(40)} ${String(buf.length).padStart(8)} B  ${String(gz).padStart(7)} B gzip${ps ? '  (photoswipe)' : ''}`);
}
console.log(rows.sort().join('\n'));
console.log(`JS gzip total excluding PhotoSwipe: ${jsGzip} B (budget ${JS_BUDGET_GZIP} B)`);
if (jsGzip > JS_BUDGET_GZIP) {
  console.error('build: JS budget exceeded');
  process.exitCode = 1;
}

if (checkOnly) {
  const list = async (dir) => (await fs.readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile()).map((d) => path.relative(dir, path.join(d.parentPath ?? d.path, d.name))).sort();
  const want = await list(dist);
  let have = [];
  try { have = await list(committed); } catch { /* missing: reported below */ }
  const diffs = [];
  for (const f of new Set([...want, ...have])) {
    if (!want.includes(f)) { diffs.push(`stale file ${f}`); continue; }
    if (!have.includes(f)) { diffs.push(`missing file ${f}`); continue; }
    const [a, b] = await Promise.all([fs.readFile(path.join(dist, f)), fs.readFile(path.join(committed, f))]);
    if (!a.equals(b)) diffs.push(`differs ${f}`);
  }
  await fs.rm(dist, { recursive: true, force: true });
  if (diffs.length) {
    console.error(`build: embed/dist is out of date with web/src (run npm --prefix web run build):\n  ${diffs.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log('embed/dist matches the sources');
  }
}
