// Builds the web console into dist/: index.html, and under assets/ every
// script, style, font and worker with a content hash in its name, each with
// a .gz and a .br copy. The front door serves them (src/http/assets.rs);
// scripts/install.sh installs them beside the extension.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const here = path.dirname(new URL(import.meta.url).pathname);
const out = path.join(here, 'dist');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, 'assets'), { recursive: true });

const monaco = 'monaco-editor';
// `jsrt:monaco` is Monaco's own editor.main.js (every editor feature) with
// only the JavaScript language: the other languages and the LSP client are left out.
const main = path.join(here, 'node_modules/monaco-editor/esm/vs/editor/editor.main.js');
const slim = {
  name: 'monaco-slim',
  setup(b) {
    b.onResolve({ filter: /^jsrt:monaco$/ }, () => ({ path: main, namespace: 'monaco-slim' }));
    b.onLoad({ filter: /.*/, namespace: 'monaco-slim' }, () => ({
      contents: fs.readFileSync(main, 'utf8').split('\n').filter((l) =>
        !/languages\/definitions\/(?!javascript\/)|languages\/features\/(css|html|json)\/|features_(css|html|json)_register|lsp-client|index as lsp/.test(l)).join('\n'),
      resolveDir: path.dirname(main),
      loader: 'js',
    }));
  },
};
const result = await esbuild.build({
  plugins: [slim],
  absWorkingDir: here,
  entryPoints: {
    app: 'src/main.js',
    'editor.worker': `${monaco}/editor/editor.worker.js`,
    'ts.worker': `${monaco}/languages/features/typescript/ts.worker.js`,
  },
  bundle: true,
  format: 'esm',
  splitting: false,
  minify: true,
  target: 'es2022',
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  loader: { '.ttf': 'file' },
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});

// The hashed names of the entry points, for the page to load.
const entry = {};
for (const [file, o] of Object.entries(result.metafile.outputs)) {
  if (!o.entryPoint) continue;
  const name = path.basename(file);
  const key = Object.entries({ app: 'src/main.js', editor: 'editor.worker', ts: 'ts.worker' })
    .find(([, v]) => o.entryPoint.includes(v))?.[0];
  if (key) entry[key] = name;
  if (key === 'app' && o.cssBundle) entry.css = path.basename(o.cssBundle);
}
for (const k of ['app', 'editor', 'ts', 'css']) {
  if (!entry[k]) throw new Error(`build: no output for ${k}`);
}
const page = fs.readFileSync(path.join(here, 'src/index.html'), 'utf8')
  .replaceAll('{{css}}', `assets/${entry.css}`)
  .replaceAll('{{app}}', `assets/${entry.app}`)
  .replaceAll('{{editorWorker}}', `assets/${entry.editor}`)
  .replaceAll('{{tsWorker}}', `assets/${entry.ts}`);
fs.writeFileSync(path.join(out, 'index.html'), page);

// Compressed copies, made once here rather than per request.
let files = 0, bytes = 0, brBytes = 0;
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
for (const f of walk(out)) {
  const body = fs.readFileSync(f);
  const br = zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
  fs.writeFileSync(`${f}.gz`, zlib.gzipSync(body, { level: 9 }));
  fs.writeFileSync(`${f}.br`, br);
  files += 1; bytes += body.length; brBytes += br.length;
}
const digest = createHash('sha256').update(page).digest('hex').slice(0, 12);
console.log(`console: ${files} files, ${(bytes / 1e6).toFixed(1)} MB (${(brBytes / 1e6).toFixed(1)} MB brotli), page ${digest}`);
