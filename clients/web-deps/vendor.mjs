// Copies the ES modules the console imports from node_modules into clients/web/vendor/, with
// their bare specifiers ("preact", "preact/hooks", …) rewritten to the copied files: a page
// cannot use an import map under the console's CSP (script-src 'self' forbids inline scripts).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '..', 'web', 'vendor');
const files = {
  'preact.mjs': 'preact/dist/preact.mjs',
  'hooks.mjs': 'preact/hooks/dist/hooks.mjs',
  'signals-core.mjs': '@preact/signals-core/dist/signals-core.mjs',
  'signals.mjs': '@preact/signals/dist/signals.mjs',
  'htm.mjs': 'htm/dist/htm.mjs',
  'htm-preact.mjs': 'htm/preact/index.mjs',
};
const specifiers = {
  'preact': './preact.mjs',
  'preact/hooks': './hooks.mjs',
  '@preact/signals-core': './signals-core.mjs',
  'htm': './htm.mjs',
};
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const [name, source] of Object.entries(files)) {
  let text = readFileSync(path.join(here, 'node_modules', source), 'utf8');
  text = text.replace(/(from|import)\s*(["'])([^"']+)\2/g, (whole, kw, q, spec) => {
    if (spec.startsWith('.')) return whole;
    if (!(spec in specifiers)) throw new Error(`${source}: unexpected import "${spec}"`);
    return `${kw}"${specifiers[spec]}"`;
  });
  text = text.replace(/\n?\/\/# sourceMappingURL=.*$/m, '');
  const pkg = source.startsWith('@') ? source.split('/').slice(0, 2).join('/') : source.split('/')[0];
  const { version } = JSON.parse(readFileSync(path.join(here, 'node_modules', pkg, 'package.json'), 'utf8'));
  writeFileSync(path.join(out, name), `// ${source} ${version} (copied by clients/web-deps/vendor.mjs)\n${text}\n`);
}
console.log(`console vendor modules: ${Object.keys(files).length} files in ${path.relative(process.cwd(), out) || out}`);
