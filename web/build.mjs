// build.mjs bundles GraphiQL into dist/, which the Go package embeds. Run it
// through `make web` (npm ci, then node build.mjs): the output depends only
// on package-lock.json, src/ and this file, whose digest it writes to
// dist/SOURCE_SHA256; web/source_test.go recomputes that digest without Node
// and fails when dist/ is stale.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { gzipSync } from 'fflate';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  platform: 'browser',
  charset: 'utf8',
  legalComments: 'external',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
  outdir: dist,
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);

await esbuild.build({
  ...common,
  entryPoints: { graphiql: 'src/graphiql.jsx' },
  jsx: 'automatic',
  // Monaco's icon font; GraphiQL's own fonts come inlined in its CSS.
  loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file' },
  assetNames: '[name]-[hash]',
});

await esbuild.build({
  ...common,
  entryPoints: {
    'editor.worker': 'src/editor.worker.js',
    'json.worker': 'src/json.worker.js',
    'graphql.worker': 'src/graphql.worker.js',
  },
});

checkNoRemoteFetches();
gzipAll();
writeFileSync(join(dist, 'SOURCE_SHA256'), sourceDigest() + '\n');

for (const f of readdirSync(dist).sort()) {
  const size = readFileSync(join(dist, f)).length;
  console.log(`${(size / 1024).toFixed(0).padStart(6)} KiB  dist/${f}`);
}

// checkNoRemoteFetches fails the build when the CSS would load something
// from another host (a font import, a background image): the page must
// work with no network but this server's.
function checkNoRemoteFetches() {
  const remote = /@import\s+(url\()?\s*['"]?(https?:)?\/\/|url\(\s*['"]?(https?:)?\/\//i;
  for (const f of readdirSync(dist)) {
    if (!f.endsWith('.css')) continue;
    const css = readFileSync(join(dist, f), 'utf8');
    const m = css.match(remote);
    if (m) {
      const at = css.slice(Math.max(0, m.index - 60), m.index + 120);
      throw new Error(`dist/${f} fetches from another host: …${at}…`);
    }
  }
}

// gzipAll writes next to each JavaScript, CSS and font file a gzipped copy
// the server sends to browsers that accept gzip. fflate is plain
// JavaScript, so the copies come out the same on every machine (Node's own
// zlib picks its code by CPU).
function gzipAll() {
  for (const f of readdirSync(dist)) {
    if (!/\.(js|css|ttf)$/.test(f)) continue;
    const body = readFileSync(join(dist, f));
    writeFileSync(join(dist, f + '.gz'), gzipSync(body, { level: 9, mtime: 0 }));
  }
}

// sourceDigest is SHA-256 over the lines "<sha256 of file>  <path>\n" of
// package.json, package-lock.json, build.mjs and every file under src/, in
// that order with src/ sorted; web/source_test.go computes the same.
function sourceDigest() {
  const files = ['package.json', 'package-lock.json', 'build.mjs', ...walk(join(here, 'src')).sort()];
  let manifest = '';
  for (const f of files) {
    const sum = createHash('sha256').update(readFileSync(join(here, f))).digest('hex');
    manifest += `${sum}  ${f}\n`;
  }
  return createHash('sha256').update(manifest).digest('hex');
}

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(relative(here, p).split('\\').join('/'));
  }
  return out;
}
