// The management API, as the signed-in key. Errors are RFC 9457 problems.
const BASE = '/_jsrt/api/v1';
const KEY = 'jsrt.key';

export const key = {
  get: () => sessionStorage.getItem(KEY),
  set: (k) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};

export class Problem extends Error {
  constructor(status, p) {
    super(p.detail || p.title || `HTTP ${status}`);
    Object.assign(this, p, { status });
  }
}

export async function api(path, { method = 'GET', body, etag, signal } = {}) {
  const headers = { Authorization: `Bearer ${key.get()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (etag) headers['If-Match'] = etag;
  const res = await fetch(BASE + path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) throw new Problem(res.status, typeof data === 'object' && data ? data : { detail: String(data) });
  return { data, etag: res.headers.get('ETag') };
}

export const get = async (path) => (await api(path)).data;

// Server-sent events of the tenant's runs (GET /runs/stream), read with
// fetch: EventSource cannot send the key.
export async function streamRuns(onEvent, signal, script) {
  // (a short wait: the runner that holds the request is held until it ends)
  const q = `?wait=5${script ? `&script=${encodeURIComponent(script)}` : ''}`;
  const res = await fetch(`${BASE}/runs/stream${q}`, {
    headers: { Authorization: `Bearer ${key.get()}`, Accept: 'text/event-stream' }, signal,
  });
  if (!res.ok || !res.body) throw new Problem(res.status, { detail: 'the run stream is not available' });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data) { try { onEvent(JSON.parse(data)); } catch { /* not JSON: ignored */ } }
    }
  }
}
