// The web console in a real browser (Debian's chromium, driven by
// playwright-core): it loads from the front door alone under its
// Content-Security-Policy, Monaco runs with same-origin module workers and
// the types of ctx, a developer edits, saves and runs a script, a stale save
// opens the merge diff, and a viewer is offered no edit or run controls.
//   node tests/integration/console.mjs BASE_URL DEVELOPER_KEY VIEWER_KEY
import { chromium } from '../../console/node_modules/playwright-core/index.mjs';

const [base, devKey, viewerKey] = process.argv.slice(2);
const origin = new URL(base).origin;
let passed = 0, failed = 0;
const check = (name, ok, extra = '') => {
  if (ok) { passed++; console.log(`ok   ${name}`); } else { failed++; console.log(`FAIL ${name} ${extra}`); }
};

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const context = await browser.newContext();
const offsite = [];
const violations = [];
// Offline: anything not from the front door is refused, and counted.
await context.route('**/*', (route) => {
  const url = route.request().url();
  if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
  offsite.push(url);
  return route.abort();
});

async function open(key) {
  const page = await context.newPage();
  const workers = [];
  page.on('worker', (w) => workers.push(w.url()));
  page.on('console', (m) => { if (/Content Security Policy|Refused to/.test(m.text())) violations.push(m.text()); });
  page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
  const response = await page.goto(`${base}/_jsrt/console/`);
  await page.fill('input[name=key]', key);
  await page.click('button[type=submit]');
  return { page, workers, response };
}

try {
  // 1. A developer: the page, sign-in, the script list.
  const { page, workers, response } = await open(devKey);
  const csp = response.headers()['content-security-policy'] || '';
  check('the page comes with a CSP allowing no inline script and no eval',
    /script-src 'self'(;|$)/.test(csp) && !csp.includes('unsafe-eval') && !/script-src[^;]*unsafe-inline/.test(csp), csp);
  await page.waitForSelector('table.scripts a', { timeout: 60000 });
  check('a developer signs in and sees the script list', await page.isVisible('text=greet'));

  // 2. The editor: Monaco, its workers, the types of ctx.
  await page.click('text=greet');
  const shown = await page.waitForFunction(() => (document.querySelector('.monaco-editor .view-lines')?.textContent || '')
    .replace(/\u00a0/g, ' ').includes('export default'), null, { timeout: 60000 }).then(() => true, () => false);
  check('Monaco shows the script', shown);
  // The TypeScript worker starts with the JavaScript language service.
  for (let i = 0; i < 100 && !workers.some((u) => u.includes('/ts.worker-')); i++) await page.waitForTimeout(200);
  const sameOrigin = workers.some((u) => u.includes('/ts.worker-')) && workers.every((u) => u.startsWith(`${origin}/_jsrt/console/assets/`));
  check(`Monaco's TypeScript worker is a same-origin file (${workers.length} workers)`, sameOrigin, workers.join(' '));
  // Type checking with jsrt.d.ts: a wrong call on ctx is marked.
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+End');
  await page.keyboard.insertText('\n/** @param {jsrt.Context} ctx */\nexport const probe = (ctx) => ctx.progress("not a number");\n');
  const marked = await page.waitForSelector('.monaco-editor .squiggly-error', { timeout: 60000 }).then(() => true, () => false);
  check('type checking with the types of ctx marks a wrong call', marked);

  // 3. Save (a new version) and run.
  await page.fill('input[aria-label="change description"]', 'from the browser test');
  await page.click('button:has-text("Save")');
  await page.waitForSelector('h2:has-text("v2")', { timeout: 60000 });
  check('saving makes version 2', true);
  // The run form is built from the script's input_schema.
  await page.fill('#in-name', 'browser');
  check('the input form from input_schema fills the JSON input', (await page.inputValue('textarea[name=input]')).includes('"name": "browser"'));
  await page.click('button:has-text("Run")');
  await page.waitForSelector('.result strong.completed', { timeout: 60000 });
  check('a run shows its status and output', (await page.textContent('.result .output')).includes('hello browser'));

  // 4. A stale save opens the diff to merge.
  const other = (await open(devKey)).page;
  await other.waitForSelector('table.scripts a', { timeout: 60000 });
  await other.click('text=greet');
  await other.waitForSelector('.monaco-editor .view-lines', { timeout: 60000 });
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.type('// mine\n');
  await other.click('.monaco-editor .view-lines');
  await other.keyboard.type('// theirs\n');
  await other.click('button:has-text("Save")');
  await other.waitForSelector('h2:has-text("v3")', { timeout: 60000 });
  await page.click('button:has-text("Save")');
  const diff = await page.waitForSelector('.conflict .monaco-diff-editor', { timeout: 60000 }).then(() => true, () => false);
  check('a stale save (412) opens a diff to merge', diff);
  // The merge: their line added to mine on the right side, then saved as version 4 with both.
  await page.click('.conflict .editor.modified .view-lines');
  await page.keyboard.press('Control+Home');
  await page.keyboard.insertText('// theirs\n');
  await page.click('button:has-text("Save merged")');
  await page.waitForSelector('h2:has-text("v4")', { timeout: 60000 });
  const v4 = await page.evaluate(async (k) => (await (await fetch('/_jsrt/api/v1/scripts/greet', { headers: { Authorization: `Bearer ${k}` } })).json()).source, devKey);
  check('the merged source is saved with both changes', v4.includes('// mine') && v4.includes('// theirs'), v4);

  // 5. The last failed run's error is marked at its line.
  await page.goto(`${base}/_jsrt/console/#/scripts/broken`);
  await page.waitForSelector('.monaco-editor .view-lines', { timeout: 60000 });
  // (line 3, column 13: where QuickJS says the script threw)
  const failedMark = await page.waitForSelector('.monaco[data-mark="3:13"] .squiggly-error', { timeout: 60000 }).then(() => true, () => false);
  check("the last failed run's error location is marked in the editor", failedMark);

  // 6. A schedule in words with its next five run times; its settings edited.
  await page.goto(`${base}/_jsrt/console/#/scripts/weekdays`);
  await page.waitForSelector('.schedule', { timeout: 60000 });
  const words = await page.textContent('.schedule strong');
  const next = await page.$$eval('.schedule ol.next li', (li) => li.map((x) => x.textContent));
  check(`a schedule reads "${words}" with its next five run times`, words === 'at 09:00 on Monday to Friday' && next.length === 5, next.join(' '));
  await page.click('nav.tabs button:has-text("settings")');
  const settings = JSON.parse(await page.inputValue('textarea[name=settings]'));
  settings.description = 'edited in the console';
  await page.fill('textarea[name=settings]', JSON.stringify(settings));
  const patched = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith('/scripts/weekdays'), { timeout: 60000 });
  await page.click('button:has-text("Save settings")');
  await patched.catch(() => {});
  const saved = await page.evaluate(async (k) => (await (await fetch('/_jsrt/api/v1/scripts/weekdays', { headers: { Authorization: `Bearer ${k}` } })).json()).description, devKey);
  check('settings edited in the console are saved', saved === 'edited in the console', String(saved));

  // 7. A viewer sees no edit, run, status or delete controls.
  const v = await open(viewerKey);
  await v.page.waitForSelector('table.scripts a', { timeout: 60000 });
  await v.page.click('text=greet');
  await v.page.waitForSelector('.monaco-editor', { timeout: 60000 });
  const offered = await v.page.$$eval('button', (bs) => bs.map((b) => b.textContent));
  check('a viewer is offered no save, run or new-script controls',
    !offered.some((t) => /Save|Run|Dry run|Delete/.test(t)) && !(await v.page.isVisible('text=New script'))
    && !(await v.page.isVisible('select[aria-label="script status"]')), offered.join(','));

  check('no request left the front door (offline)', offsite.length === 0, offsite.join(' '));
  check('no CSP violation or page error', violations.length === 0, violations.join(' | '));
} catch (e) {
  check('the console test ran to its end', false, e.stack);
} finally {
  await browser.close();
}
console.log(`console: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
