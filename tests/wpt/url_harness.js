// The checks of WPT's url/url-constructor.any.js, url-origin.any.js and
// url-setters.any.js, as one function both jsrt and Node run on the same
// data (tests/integration/wpt_url.sh). Returns the ids of the cases that
// pass: "u<index>" for urltestdata.json (the index in the file's array),
// "s<part>.<index>" for setters_tests.json.
function wptUrl(data, setters) {
  const passed = [];
  const same = (a, b) => {
    if (a !== b) throw new Error(`${JSON.stringify(a)} !== ${JSON.stringify(b)}`);
  };
  data.forEach((t, i) => {
    if (typeof t === 'string') return;
    const base = t.base === null ? undefined : t.base;
    try {
      if (t.failure) {
        let threw = null;
        try { new URL(t.input, base); } catch (e) { threw = e; }
        if (!(threw instanceof TypeError)) throw new Error('no TypeError');
        // url-constructor also checks that URL.canParse agrees
        same(URL.canParse(t.input, base), false);
      } else {
        const u = new URL(t.input, base);
        for (const k of ['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']) same(u[k], t[k]);
        if ('origin' in t) same(u.origin, t.origin);
        if ('searchParams' in t) same(u.searchParams.toString(), t.searchParams);
        same(URL.canParse(t.input, base), true);
      }
      passed.push(`u${i}`);
    } catch {
      // a failing case is simply not listed
    }
  });
  for (const part of Object.keys(setters)) {
    if (part === 'comment') continue;
    setters[part].forEach((t, i) => {
      try {
        const u = new URL(t.href);
        u[part] = t.new_value;
        for (const k of Object.keys(t.expected)) same(u[k], t.expected[k]);
        passed.push(`s${part}.${i}`);
      } catch {
        // not listed
      }
    });
  }
  return passed;
}
