// Static rules over our own sources (PhotoSwipe's bundle is not ours):
// user text never goes through an HTML parser and nothing needs 'unsafe-inline'
// or 'unsafe-eval' under the server's CSP.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? files(p) : [p];
  });
}

const FORBIDDEN = [
  [/\.innerHTML\s*=/, 'innerHTML assignment'],
  [/\.outerHTML\s*=/, 'outerHTML assignment'],
  [/insertAdjacentHTML/, 'insertAdjacentHTML'],
  [/document\.write/, 'document.write'],
  [/\beval\s*\(/, 'eval'],
  [/new\s+Function\s*\(/, 'new Function'],
  [/setAttribute\(\s*['"]style['"]/, 'style attribute'],
  [/setAttribute\(\s*['"]on/i, 'event handler attribute'],
  [/createContextualFragment|DOMParser/, 'HTML parsing'],
  [/\bsetTimeout\(\s*['"`]/, 'string setTimeout'],
  [/localStorage\.setItem\([^)]*token/i, 'token in localStorage'],
  [/https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'external URL'],
];

test('sources avoid HTML-string sinks, eval and inline styles', () => {
  const js = files(src).filter((f) => f.endsWith('.js'));
  assert.ok(js.length >= 8);
  const problems = [];
  for (const f of js) {
    const text = fs.readFileSync(f, 'utf8');
    for (const [re, what] of FORBIDDEN) if (re.test(text)) problems.push(`${path.relative(src, f)}: ${what}`);
  }
  assert.deepEqual(problems, []);
});

test('the rules catch what they claim to', () => {
  const samples = ['el.innerHTML = name', 'x.insertAdjacentHTML("beforeend", s)', 'el.setAttribute("style", "x")', "el.setAttribute('onclick', f)", 'eval(s)'];
  for (const s of samples) assert.ok(FORBIDDEN.some(([re]) => re.test(s)), s);
});

test('HTML shells have no inline code or style', () => {
  for (const f of files(src).filter((p) => p.endsWith('.html'))) {
    const text = fs.readFileSync(f, 'utf8');
    assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)[^>]*>/, `${f}: inline script`);
    assert.doesNotMatch(text, /<style|\sstyle=|\son[a-z]+=/i, `${f}: inline style or handler`);
    assert.match(text, /<meta name="referrer" content="no-referrer">/);
  }
});
