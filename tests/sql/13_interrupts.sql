-- Trust rule 4: once a run is past its deadline (or cancelled), no JS makes
-- progress: calls, catch and finally fail at once, whatever the shape of
-- the code, also a loop whose every turn spends long in one builtin (these
-- used to run on to the FATAL last resort). Each shape below runs with a 300 ms limit and must end with the
-- time-limit error; statement_timeout only guards the test against a hang.
SELECT jsrt.create_tenant('interrupts') IS NOT NULL AS ok;
SELECT jsrt.set_tenant('interrupts');
SELECT jsrt.create_script('plain', 'export default () => 1', 'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
SET statement_timeout = '60s';
CREATE TABLE hostile (n serial, shape text, src text);
INSERT INTO hostile(shape, src) VALUES
 ('recursion in finally', 'const f = () => { try { f() } finally { f() } }; f()'),
 ('recursion in catch', 'const f = () => { try { f() } catch (e) { f() } }; f()'),
 ('loop in finally', 'try { for (;;) {} } finally { for (;;) {} }'),
 ('catch everything and loop', 'for (;;) { try { for (;;) {} } catch (e) {} }'),
 ('generator', 'function* g() { try { yield* g() } finally { yield* g() } }; for (const x of g()) {}'),
 ('async recursion', 'const f = async () => { try { await f() } finally { await f() } }; await f()'),
 ('getter', 'const o = { get x() { try { return o.x } finally { return o.x } } }; o.x'),
 ('Proxy trap', 'const p = new Proxy({}, { get(t, k) { try { return p[k] } finally { return p[k] } } }); p.x'),
 ('sort comparator', 'const a = [3, 1, 2]; const c = (x, y) => { try { a.sort(c) } finally { a.sort(c) } return 0 }; a.sort(c)'),
 ('replace callback', 'const r = () => { try { "ab".replace(/./g, r) } finally { "ab".replace(/./g, r) } return "" }; "ab".replace(/./g, r)'),
 ('toJSON', 'const o = { toJSON() { try { return JSON.stringify(o) } finally { return JSON.stringify(o) } } }; return o'),
 ('promise jobs', 'const f = () => Promise.resolve().then(() => { try { f() } finally { f() } }); f(); await new Promise(() => {})'),
 ('error constructor', 'const f = () => { try { throw new Error("x".repeat(1000)) } catch (e) { f() } finally { f() } }; f()'),
 ('Array.from mapper', 'const f = () => { try { Array.from({length: 3}, f) } finally { Array.from({length: 3}, f) } }; f()'),
 ('slow builtin in a loop', 'const a = new Float64Array(4e6); for (;;) a.fill(1)'),
 ('includes in a loop', 'const a = new Array(2e6).fill(1); let c = 0; for (;;) c += a.includes(2) ? 1 : 0'),
 ('indexOf in a loop', 'const s = "ab".repeat(8e6); let c = 0; for (;;) c += s.indexOf("abc")'),
 ('BigInt products in a loop', 'let x = 7n ** 100000n; for (;;) x * x'),
 ('slow builtin in a loop, caught', 'const a = new Float64Array(4e6); for (;;) { try { a.fill(1) } catch (e) {} }');
DO $$
DECLARE
    h record;
BEGIN
    FOR h IN SELECT * FROM hostile ORDER BY n LOOP
        PERFORM jsrt.create_script('hostile_' || h.n, 'export default async (ctx) => { ' || h.src || ' }', 'oneoff',
                                   '{"status": "active", "resource_limits": {"max_execution_time_ms": 300}}');
    END LOOP;
END $$;
-- (where a run was when it was stopped varies, and the shapes that pile up
-- promises may reach the memory limit before the time limit)
SELECT n, shape,
       CASE WHEN e ~ '^54000: .* ran past max_execution_time_ms \(300 ms\)'
              OR e ~ '^53200: .* used more than max_memory_bytes' THEN 'stopped at its limit'
            ELSE e END AS outcome
  FROM (SELECT n, shape, err(format($$SELECT jsrt.execute('hostile_%s')$$, n)) AS e FROM hostile) r ORDER BY n;
-- each was recorded as a timeout, and the backend runs scripts as before
SELECT jsrt.flush_history(10000);
SELECT count(*) FILTER (WHERE e.status = 'timeout' OR e.error LIKE '%max_memory_bytes%') AS stopped_at_a_limit, count(*) AS runs
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name LIKE 'hostile\_%';
SELECT jsrt.execute('plain') AS still_runs;
-- statement_timeout ends the same shapes when the script's own limit is longer
SELECT jsrt.update_script('hostile_1', NULL, '{"resource_limits": {"max_execution_time_ms": 600000}}') AS version;
SELECT jsrt.update_script('hostile_4', NULL, '{"resource_limits": {"max_execution_time_ms": 600000}}') AS version;
SET statement_timeout = '300ms';
SELECT jsrt.execute('hostile_1');
SELECT jsrt.execute('hostile_4');
RESET statement_timeout;
RESET jsrt.tenant;
