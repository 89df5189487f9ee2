// The jsruntime console: sign in with an API key, then scripts, the editor
// with its run panel, versions and history, all through the management API.
import { h, render } from 'preact';
import { useEffect, useState, useRef, useCallback } from 'preact/hooks';
import htm from 'htm';
import { api, get, key, Problem, streamRuns } from './api.js';
import { createEditor, createDiff, loadTypes, mark } from './editor.js';
import { describeCron } from './cron.js';
import './style.css';

const html = htm.bind(h);
const RANKS = { viewer: 0, developer: 1, admin: 2, superadmin: 3 };
const roleOf = (me) => (me?.role || '').replace(/^jsrt_/, '');
const may = (me, role) => (RANKS[roleOf(me)] ?? 0) >= RANKS[role];
const FINAL = new Set(['completed', 'failed', 'timeout', 'cancelled']);

function useRoute() {
  const [route, setRoute] = useState(location.hash.slice(1) || '/scripts');
  useEffect(() => {
    const on = () => setRoute(location.hash.slice(1) || '/scripts');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function ErrorBox({ error }) {
  if (!error) return null;
  const where = error.line ? ` (line ${error.line}${error.column ? `:${error.column}` : ''})` : '';
  const field = error.pointer || error.field;
  return html`<p class="error" role="alert">${error.message}${where}${field ? ` at ${field}` : ''}${error.sqlstate ? ` [${error.sqlstate}]` : ''}</p>`;
}

function SignIn({ onIn }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    key.set(value.trim());
    try { onIn(await whoami()); } catch (err) { key.clear(); setError(err); }
  };
  return html`<form class="signin" onSubmit=${submit}>
    <h1>jsruntime</h1>
    <label>API key <input type="password" name="key" autocomplete="off" value=${value} onInput=${(e) => setValue(e.target.value)} /></label>
    <button type="submit">Sign in</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

async function whoami() {
  return get('/me');
}

function ScriptList({ me }) {
  const [filters, setFilters] = useState({ search: '', type: '', status: '', tags: '' });
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    get(`/scripts?${q}`).then(setPage, setError);
  }, [filters]);
  const set = (k) => (e) => setFilters({ ...filters, [k]: e.target.value });
  return html`<section>
    <div class="bar">
      <input placeholder="Search" aria-label="search" value=${filters.search} onInput=${set('search')} />
      <select aria-label="type" onChange=${set('type')}><option value="">any type</option>${['scheduled', 'http', 'event', 'oneoff', 'embedded'].map((t) => html`<option>${t}</option>`)}</select>
      <select aria-label="status" onChange=${set('status')}><option value="">any status</option>${['draft', 'active', 'paused', 'disabled', 'archived'].map((t) => html`<option>${t}</option>`)}</select>
      <input placeholder="Tag" aria-label="tag" value=${filters.tags} onInput=${set('tags')} />
      ${may(me, 'developer') && html`<a class="button" href="#/new">New script</a>`}
    </div>
    <${ErrorBox} error=${error} />
    <table class="scripts"><thead><tr><th>Name</th><th>Type</th><th>Status</th><th>Tags</th><th>Last run</th><th>Next run</th></tr></thead>
    <tbody>${(page?.items || []).map((s) => html`<tr>
      <td><a href=${`#/scripts/${encodeURIComponent(s.name)}`}>${s.name}</a></td><td>${s.type}</td><td>${s.status}</td>
      <td>${(s.tags || []).join(', ')}</td><td class=${s.last_run_status || ''}>${s.last_run_status || '—'}</td><td>${s.next_run_at || '—'}</td></tr>`)}
    </tbody></table>
  </section>`;
}

function NewScript() {
  const [form, setForm] = useState({ name: '', type: 'oneoff' });
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try {
      await api('/scripts', { method: 'POST', body: { ...form, source: '/** @param {jsrt.Context} ctx */\nexport default async function (ctx) {\n  return { ok: true };\n}\n' } });
      location.hash = `#/scripts/${encodeURIComponent(form.name)}`;
    } catch (err) { setError(err); }
  };
  return html`<form class="new" onSubmit=${submit}>
    <label>Name <input name="name" value=${form.name} onInput=${(e) => setForm({ ...form, name: e.target.value })} /></label>
    <label>Type <select name="type" onChange=${(e) => setForm({ ...form, type: e.target.value })}>${['oneoff', 'scheduled', 'http', 'event', 'embedded'].map((t) => html`<option>${t}</option>`)}</select></label>
    <button type="submit">Create</button><${ErrorBox} error=${error} />
  </form>`;
}

function Monaco({ source, readOnly, onReady }) {
  const el = useRef(null);
  useEffect(() => {
    const ed = createEditor(el.current, source, readOnly);
    onReady(ed);
    return () => { ed.getModel()?.dispose(); ed.dispose(); };
  }, [source]);
  return html`<div class="monaco" ref=${el}></div>`;
}

function Diff({ left, right, onReady }) {
  const el = useRef(null);
  useEffect(() => {
    const d = createDiff(el.current, left, right, !!onReady);
    onReady?.(d.getModifiedEditor());
    return () => d.dispose();
  }, [left, right]);
  return html`<div class="monaco diff" ref=${el}></div>`;
}

// A form from the script's input_schema (top-level properties of simple types); the JSON stays editable.
function SchemaForm({ schema, input, setInput }) {
  const props = schema && typeof schema === 'object' ? schema.properties : null;
  if (!props) return null;
  let value = {};
  try { value = JSON.parse(input) || {}; } catch { /* the JSON box shows the error */ }
  const put = (k, v) => setInput(JSON.stringify({ ...value, [k]: v }, null, 2));
  return html`<fieldset class="schema"><legend>Input</legend>${Object.entries(props).map(([k, p]) => {
    const id = `in-${k}`;
    const label = html`<label for=${id}>${k}${(schema.required || []).includes(k) ? ' *' : ''}</label>`;
    if (Array.isArray(p.enum)) return html`<div>${label}<select id=${id} onChange=${(e) => put(k, p.enum[e.target.selectedIndex])}>${p.enum.map((o) => html`<option selected=${value[k] === o}>${String(o)}</option>`)}</select></div>`;
    if (p.type === 'boolean') return html`<div>${label}<input id=${id} type="checkbox" checked=${!!value[k]} onChange=${(e) => put(k, e.target.checked)} /></div>`;
    if (p.type === 'number' || p.type === 'integer') return html`<div>${label}<input id=${id} type="number" value=${value[k] ?? ''} onInput=${(e) => put(k, e.target.value === '' ? undefined : Number(e.target.value))} /></div>`;
    return html`<div>${label}<input id=${id} value=${value[k] ?? ''} onInput=${(e) => put(k, e.target.value)} /></div>`;
  })}</fieldset>`;
}

function RunPanel({ me, name, editor, schema }) {
  const [input, setInput] = useState('{}');
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  const timer = useRef(null);
  const stream = useRef(null);
  useEffect(() => () => { clearTimeout(timer.current); stream.current?.abort(); }, []);
  // The run's status changes come from the run stream (SSE); its progress and
  // log lines from the run itself, read while it goes on.
  const follow = (id) => {
    clearTimeout(timer.current);
    get(`/runs/${id}`).then((r) => {
      setRun(r);
      if (r.error_detail?.line && editor.current) mark(editor.current, { message: r.error, ...r.error_detail });
      if (!FINAL.has(r.status)) timer.current = setTimeout(() => follow(id), 300);
      else stream.current?.abort();
    }, setError);
  };
  const watch = (id) => {
    stream.current?.abort();
    const ctl = new AbortController();
    stream.current = ctl;
    const loop = () => streamRuns((e) => { if (e.id === id) follow(id); }, ctl.signal, name)
      .then(() => { if (!ctl.signal.aborted) loop(); }, () => {});
    loop();
  };
  const parsed = () => { try { return JSON.parse(input); } catch (e) { throw new Problem(400, { detail: `the input is not JSON: ${e.message}` }); } };
  const start = async (dry) => {
    setError(null); setRun(null);
    try {
      if (dry) {
        const source = editor.current?.getValue();
        setRun({ dry: true, ...(await api(`/scripts/${encodeURIComponent(name)}/dry-run`, { method: 'POST', body: { source, input: parsed() } })).data });
      } else {
        const { data } = await api(`/scripts/${encodeURIComponent(name)}/runs`, { method: 'POST', body: { input: parsed() } });
        watch(data.id);
        follow(data.id);
      }
    } catch (err) { setError(err); }
  };
  const cancel = () => api(`/runs/${run.id}/cancel`, { method: 'POST' }).catch(setError);
  const p = run?.live?.progress;
  const logs = run?.live?.logs || run?.logs || [];
  return html`<section class="run">
    <${SchemaForm} schema=${schema} input=${input} setInput=${setInput} />
    <label>Input (JSON)<textarea name="input" rows="4" value=${input} onInput=${(e) => setInput(e.target.value)}></textarea></label>
    ${may(me, 'developer') && html`<div class="bar"><button onClick=${() => start(false)}>Run</button><button onClick=${() => start(true)}>Dry run</button>
      ${run && !FINAL.has(run.status) && !run.dry && html`<button onClick=${cancel}>Cancel</button>`}</div>`}
    <${ErrorBox} error=${error} />
    ${run && html`<div class="result">
      <p>Status: <strong class=${run.status}>${run.dry ? 'dry run' : run.status}</strong></p>
      ${p && html`<progress max=${p.total || 100} value=${p.done}></progress> <span>${p.message || ''}</span>`}
      ${run.error && html`<${ErrorBox} error=${{ message: run.error, ...(run.error_detail || {}) }} />`}
      ${run.output !== undefined && run.output !== null && html`<pre class="output">${JSON.stringify(run.output, null, 2)}</pre>`}
      ${logs.length > 0 && html`<pre class="logs">${logs.map((l) => (typeof l === 'string' ? l : `[${l.level}] ${l.message}`)).join('\n')}</pre>`}
      ${run.writes && html`<pre class="writes">${JSON.stringify(run.writes, null, 2)}</pre>`}
    </div>`}
  </section>`;
}

function ScriptPage({ me, name }) {
  const [script, setScript] = useState(null);
  const [etag, setEtag] = useState(null);
  const [error, setError] = useState(null);
  const [conflict, setConflict] = useState(null);
  const [note, setNote] = useState('');
  const [tab, setTab] = useState('code');
  const editor = useRef(null);
  const merged = useRef(null);
  const load = useCallback(async () => {
    try {
      const r = await api(`/scripts/${encodeURIComponent(name)}`);
      setScript(r.data); setEtag(r.etag || r.data.etag);
      api('/jsrt.d.ts').then((t) => loadTypes(t.data), () => {});
    } catch (err) { setError(err); }
  }, [name]);
  useEffect(() => { load(); }, [load]);
  const save = async () => {
    setError(null);
    const source = editor.current.getValue();
    try {
      const r = await api(`/scripts/${encodeURIComponent(name)}`, { method: 'PATCH', etag, body: { source, change_description: note || undefined } });
      setScript(r.data); setEtag(r.etag || r.data.etag); setNote(''); mark(editor.current, null);
    } catch (err) {
      if (err.status === 412) {
        const theirs = await api(`/scripts/${encodeURIComponent(name)}`);
        setConflict({ mine: source, theirs: theirs.data.source, etag: theirs.etag || theirs.data.etag });
      } else { setError(err); mark(editor.current, err); }
    }
  };
  // The merge's right side, saved over their version (its ETag).
  const saveMerged = async () => {
    try {
      const r = await api(`/scripts/${encodeURIComponent(name)}`, { method: 'PATCH', etag: conflict.etag, body: { source: merged.current.getValue(), change_description: note || 'merged' } });
      setConflict(null); setScript(r.data); setEtag(r.etag || r.data.etag); setNote('');
    } catch (err) { setError(err); }
  };
  if (!script) return html`<${ErrorBox} error=${error} />`;
  return html`<section class="script">
    <h2>${script.name} <small>v${script.version} · ${script.type} · ${script.status}</small></h2>
    <${Settings} me=${me} script=${script} onChange=${load} />
    <nav class="tabs">${['code', 'settings', 'versions', 'history'].map((t) => html`<button class=${tab === t ? 'on' : ''} onClick=${() => setTab(t)}>${t}</button>`)}</nav>
    ${tab === 'code' && html`<div>
      ${script.cron_expression && html`<${SchedulePreview} name=${name} />`}
      <${Monaco} source=${script.source} readOnly=${!may(me, 'developer')} onReady=${(ed) => { editor.current = ed; markLastFailure(ed, name, script.version); }} />
      ${may(me, 'developer') && html`<div class="bar"><input placeholder="What changed" aria-label="change description" value=${note} onInput=${(e) => setNote(e.target.value)} /><button onClick=${save}>Save</button></div>`}
      <${ErrorBox} error=${error} />
      ${conflict && html`<div class="conflict"><p>Someone saved this script meanwhile: their version (left) and yours (right). Merge into the right side, then save.</p>
        <${Diff} left=${conflict.theirs} right=${conflict.mine} onReady=${(ed) => { merged.current = ed; }} />
        <button onClick=${saveMerged}>Save merged</button></div>`}
      <${RunPanel} me=${me} name=${name} editor=${editor} schema=${script.input_schema} />
    </div>`}
    ${tab === 'settings' && (may(me, 'developer')
      ? html`<${SettingsForm} script=${script} etag=${etag} onSaved=${(r) => { setScript(r.data); setEtag(r.etag || r.data.etag); }} />`
      : html`<pre>${JSON.stringify(Object.fromEntries(EDITABLE.map((k) => [k, script[k]])), null, 2)}</pre>`)}
    ${tab === 'versions' && html`<${Versions} me=${me} name=${name} onRollback=${load} />`}
    ${tab === 'history' && html`<${History} me=${me} script=${name} />`}
  </section>`;
}

// The last failed run of this version marks its error's line and column.
async function markLastFailure(ed, name, version) {
  try {
    const page = await get(`/runs?script=${encodeURIComponent(name)}&status=failed&version=${version}&limit=1`);
    const last = page.items?.[0];
    // (the list leaves error_detail out: the run itself has it)
    const r = last && await get(`/runs/${last.id}`);
    if (r?.error_detail?.line) mark(ed, { message: `last failed run: ${r.error}`, ...r.error_detail });
  } catch { /* no history to show */ }
}

const EDITABLE = ['description', 'tags', 'cron_expression', 'timezone', 'http_path', 'http_methods', 'event_types', 'resource_limits', 'retry', 'input_schema', 'history'];

function SettingsForm({ script, etag, onSaved }) {
  const pick = Object.fromEntries(EDITABLE.filter((k) => script[k] !== undefined).map((k) => [k, script[k]]));
  const [text, setText] = useState(JSON.stringify(pick, null, 2));
  const [error, setError] = useState(null);
  const save = async () => {
    let body;
    try { body = JSON.parse(text); } catch (e) { setError(new Problem(400, { detail: `the settings are not JSON: ${e.message}` })); return; }
    try { onSaved(await api(`/scripts/${encodeURIComponent(script.name)}`, { method: 'PATCH', etag, body })); setError(null); } catch (err) { setError(err); }
  };
  return html`<div class="settings-form"><label>Settings (JSON)<textarea name="settings" rows="10" value=${text} onInput=${(e) => setText(e.target.value)}></textarea></label>
    <button onClick=${save}>Save settings</button><${ErrorBox} error=${error} /></div>`;
}

function Settings({ me, script, onChange }) {
  const [error, setError] = useState(null);
  const name = encodeURIComponent(script.name);
  const status = (e) => api(`/scripts/${name}/status`, { method: 'POST', body: { status: e.target.value } }).then(onChange, setError);
  const remove = () => {
    if (!confirm(`Delete script ${script.name} and its history?`)) return;
    api(`/scripts/${name}`, { method: 'DELETE' }).then(() => { location.hash = '#/scripts'; }, setError);
  };
  return html`<div class="bar settings">
    ${may(me, 'developer') && html`<label>Status <select aria-label="script status" value=${script.status} onChange=${status}>
      ${['draft', 'active', 'paused', 'disabled', 'archived'].map((t) => html`<option selected=${t === script.status}>${t}</option>`)}</select></label>`}
    ${may(me, 'admin') && html`<button class="danger" onClick=${remove}>Delete</button>`}
    <${ErrorBox} error=${error} />
  </div>`;
}

function DeadLetters({ me }) {
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const load = () => get('/dead-letters').then(setPage, setError);
  useEffect(() => { load(); }, []);
  const redrive = () => api('/dead-letters/redrive', { method: 'POST', body: {} }).then((r) => { setDone(r.data.redriven); load(); }, setError);
  return html`<section>
    ${may(me, 'developer') && html`<div class="bar"><button onClick=${redrive}>Retry all</button>${done !== null && html`<span>${done} retried</span>`}</div>`}
    <${ErrorBox} error=${error} />
    <table><thead><tr><th>Script</th><th>Event</th><th>Error</th><th>Retries</th><th>Created</th></tr></thead><tbody>
    ${(page?.items || []).map((d) => html`<tr><td>${d.script}</td><td>${d.event_type}</td><td>${d.error}</td><td>${d.retry_count}</td><td>${d.created_at}</td></tr>`)}
    </tbody></table>
  </section>`;
}

function SchedulePreview({ name }) {
  const [s, setS] = useState(null);
  useEffect(() => { get(`/scripts/${encodeURIComponent(name)}/schedule?count=5`).then(setS, () => {}); }, [name]);
  if (!s) return null;
  return html`<div class="schedule"><strong>${describeCron(s.cron_expression)}</strong> <code>${s.cron_expression}</code> (${s.timezone})
    <ol class="next">${(s.next_runs || []).map((t) => html`<li>${t}</li>`)}</ol></div>`;
}

function Versions({ me, name, onRollback }) {
  const [list, setList] = useState([]);
  const [pick, setPick] = useState([]);
  const [sources, setSources] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { get(`/scripts/${encodeURIComponent(name)}/versions`).then((r) => setList(r.items || []), setError); }, [name]);
  const toggle = (v) => setPick((p) => (p.includes(v) ? p.filter((x) => x !== v) : [...p, v].slice(-2)));
  useEffect(() => {
    if (pick.length !== 2) { setSources(null); return; }
    const [a, b] = [...pick].sort((x, y) => x - y);
    Promise.all([a, b].map((v) => get(`/scripts/${encodeURIComponent(name)}/versions/${v}`))).then(([x, y]) => setSources([x.source, y.source]), setError);
  }, [pick]);
  const rollback = (v) => api(`/scripts/${encodeURIComponent(name)}/rollback`, { method: 'POST', body: { version: v } }).then(onRollback, setError);
  return html`<div>
    <${ErrorBox} error=${error} />
    <table><thead><tr><th></th><th>Version</th><th>Author</th><th>Time</th><th>Description</th><th></th></tr></thead><tbody>
    ${list.map((v) => html`<tr><td><input type="checkbox" aria-label=${`compare ${v.version}`} checked=${pick.includes(v.version)} onChange=${() => toggle(v.version)} /></td>
      <td>${v.version}</td><td>${v.created_by || ''}</td><td>${v.created_at}</td><td>${v.change_description || ''}</td>
      <td>${may(me, 'developer') && html`<button onClick=${() => rollback(v.version)}>Roll back to ${v.version}</button>`}</td></tr>`)}
    </tbody></table>
    ${sources && html`<${Diff} left=${sources[0]} right=${sources[1]} />`}
  </div>`;
}

function History({ me, script }) {
  const [filters, setFilters] = useState({ status: '', trigger: '', q: '' });
  const [page, setPage] = useState(null);
  const [open, setOpen] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const q = new URLSearchParams(Object.entries({ ...filters, script: script || '' }).filter(([, v]) => v));
    get(`/runs?${q}`).then(setPage, setError);
  }, [filters, script]);
  const set = (k) => (e) => setFilters({ ...filters, [k]: e.target.value });
  return html`<section class="history">
    <div class="bar">
      <select aria-label="run status" onChange=${set('status')}><option value="">any status</option>${['pending', 'running', 'completed', 'failed', 'timeout', 'cancelled'].map((t) => html`<option>${t}</option>`)}</select>
      <select aria-label="trigger" onChange=${set('trigger')}><option value="">any trigger</option>${['manual', 'api', 'event', 'cron', 'http'].map((t) => html`<option>${t}</option>`)}</select>
      <input placeholder="Text in error or logs" aria-label="text" value=${filters.q} onInput=${set('q')} />
    </div>
    <${ErrorBox} error=${error} />
    <table><thead><tr><th>Started</th><th>Script</th><th>Status</th><th>Trigger</th><th>Input</th></tr></thead><tbody>
    ${(page?.items || []).map((r) => html`<tr onClick=${() => get(`/runs/${r.id}`).then(setOpen, setError)}>
      <td>${r.started_at}</td><td>${r.script}</td><td class=${r.status}>${r.status}</td><td>${r.trigger_type}</td><td><code>${JSON.stringify(r.input)}</code></td></tr>`)}
    </tbody></table>
    ${open && html`<${RunDetail} me=${me} run=${open} />`}
  </section>`;
}

function RunDetail({ me, run }) {
  const [input, setInput] = useState(JSON.stringify(run.input ?? {}, null, 2));
  const [error, setError] = useState(null);
  const [replayed, setReplayed] = useState(null);
  const replay = async () => {
    try { setReplayed((await api(`/runs/${run.id}/replay`, { method: 'POST', body: { input: JSON.parse(input) } })).data); } catch (err) { setError(err); }
  };
  return html`<div class="detail">
    <h3>Run ${run.id}</h3>
    <p>${run.status} · attempt ${run.attempt ?? 1}${run.parent_execution_id ? ` · parent ${run.parent_execution_id}` : ''}</p>
    ${run.error && html`<${ErrorBox} error=${{ message: run.error, ...(run.error_detail || {}) }} />`}
    <pre class="output">${JSON.stringify(run.output, null, 2)}</pre>
    <pre class="logs">${(run.logs || []).map((l) => `[${l.level}] ${l.message}`).join('\n')}</pre>
    <pre class="metrics">${JSON.stringify(run.metrics, null, 2)}</pre>
    ${may(me, 'developer') && html`<label>Input<textarea rows="4" value=${input} onInput=${(e) => setInput(e.target.value)}></textarea></label>
      <button onClick=${replay}>Replay</button>`}
    ${replayed && html`<p>Replayed as ${replayed.id}</p>`}
    <${ErrorBox} error=${error} />
  </div>`;
}

function App() {
  const [me, setMe] = useState(null);
  const [checked, setChecked] = useState(!key.get());
  const route = useRoute();
  useEffect(() => { if (key.get()) whoami().then(setMe, () => key.clear()).finally(() => setChecked(true)); }, []);
  if (!checked) return null;
  if (!me) return html`<${SignIn} onIn=${setMe} />`;
  const script = route.match(/^\/scripts\/(.+)$/);
  return html`<div class="app">
    <header><strong>jsruntime</strong> <a href="#/scripts">Scripts</a> <a href="#/history">History</a> <a href="#/dead-letters">Dead letters</a>
      <span class="who">${me.tenant || ''} · ${roleOf(me)}</span>
      <button onClick=${() => { key.clear(); setMe(null); }}>Sign out</button></header>
    <main>${script ? html`<${ScriptPage} me=${me} name=${decodeURIComponent(script[1])} />`
      : route === '/history' ? html`<${History} me=${me} />`
      : route === '/dead-letters' ? html`<${DeadLetters} me=${me} />`
      : route === '/new' && may(me, 'developer') ? html`<${NewScript} />`
      : html`<${ScriptList} me=${me} />`}</main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
