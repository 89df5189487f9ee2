#!/usr/bin/env python3
"""The management API over real sockets, made ready by api.sh:
python3 api.py HTTP_PORT KEYS_JSON B_RUN_ID B_SCRIPT_ID PG_PORT DB

Prints "ok   name" or "FAIL name" per check, and "api: N passed, M failed".
"""
import http.client
import json
import subprocess
import sys
import time

from checks import check, finish

PORT = int(sys.argv[1])
KEYS = json.load(open(sys.argv[2]))
B_RUN, B_SCRIPT = sys.argv[3], sys.argv[4]
PG_PORT, DB = sys.argv[5], sys.argv[6]
API = "/_jsrt/api/v1"


def psql(sql, errors=False):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-h", "/tmp", "-p", PG_PORT, "-U", "postgres", DB,
                          "-v", "VERBOSITY=verbose", "-c", sql], capture_output=True, text=True)
    return out.stderr.strip() if errors else out.stdout.strip()


def call(method, path, body=None, key="developer", headers=None, raw=None):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    h = dict(headers or {})
    if key:
        h["Authorization"] = "Bearer " + KEYS[key]
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    if data is not None:
        h["Content-Type"] = "application/json"
    try:
        c.request(method, API + path if not path.startswith("/_") else path, body=data, headers=h)
        r = c.getresponse()
        text = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        try:
            j = json.loads(text) if text else None
        except ValueError:
            j = None
        return r.status, hdrs, j, text
    finally:
        c.close()


def problem(resp, status, **fields):
    s, h, j, _ = resp
    ok = s == status and h.get("content-type") == "application/problem+json" and isinstance(j, dict) \
        and j.get("status") == status and "detail" in j
    return ok and all(j.get(k) == v for k, v in fields.items())


# ---------------------------------------------------------------- the document and auth

def document():
    s, h, doc, _ = call("GET", "/openapi.json", key=None)
    check("openapi.json is served without a key", s == 200 and doc["openapi"] == "3.1.0", s)
    try:
        from openapi_spec_validator import validate
        validate(doc)
        check("openapi.json is valid OpenAPI 3.1 (openapi-spec-validator)", True)
    except ImportError:
        check("openapi-spec-validator is installed (scripts/setup.sh, target/test-venv)", False)
    except Exception as e:  # the validator's error says where
        check("openapi.json is valid OpenAPI 3.1 (openapi-spec-validator)", False, str(e)[:300])
    # every documented operation answers at its path (not 404 or 405)
    wrong = []
    for path, item in doc["paths"].items():
        for method in item:
            p = path.replace("{name}", "nope").replace("{id}", "00000000-0000-0000-0000-000000000000") \
                    .replace("{version}", "1")
            s = call(method.upper(), p, key="viewer", raw="{}" if method in ("post", "put", "patch") else None)[0]
            if s == 405 or (s == 404 and "{" not in path) or s >= 500:
                wrong.append((method, path, s))
    check("every documented operation is routed", not wrong, wrong)
    s, h, _, text = call("GET", "/jsrt.d.ts", key=None)
    check("jsrt.d.ts is served", s == 200 and b"declare namespace jsrt" in text, s)


def auth():
    r = call("GET", "/scripts", key=None)
    check("no key: 401 problem+json with WWW-Authenticate", problem(r, 401) and r[1].get("www-authenticate") == "Bearer", r[:3])
    r = call("GET", "/scripts", key=None, headers={"Authorization": "Bearer jsrt_000000000000_nothing"})
    check("an invalid key: 401", problem(r, 401), r[:3])
    r = call("GET", "/scripts", key=None, headers={"X-API-Key": KEYS["viewer"]})
    check("X-API-Key works as well as Bearer", r[0] == 200, r[:3])
    r = call("GET", "/nothing/here")
    check("an unknown path: 404 problem", problem(r, 404), r[:3])
    r = call("PUT", "/scripts")
    check("a wrong method: 405 with Allow", problem(r, 405) and r[1].get("allow") == "GET, POST", r[:3])
    r = call("POST", "/scripts", raw="{not json")
    check("a body that is not JSON: 400", problem(r, 400), r[:3])


# ---------------------------------------------------------------- scripts

def scripts():
    r = call("POST", "/scripts", {"name": "greet", "source": "export default (ctx) => ({hi: ctx.input.who ?? 'world'})",
                                   "type": "oneoff", "tags": ["demo", "x"], "description": "says hello",
                                   "metadata": {"team": "core"}})
    s, h, j, _ = r
    check("create: 201 with ETag and Location", s == 201 and h.get("etag") == j["etag"]
          and h.get("location") == API + "/scripts/greet" and j["version"] == 1 and "source" in j, r[:3])
    r = call("POST", "/scripts", {"name": "greet", "source": "export default () => 1"})
    check("a second script of the name: 409, SQLSTATE 23505", problem(r, 409, sqlstate="23505"), r[:3])
    r = call("POST", "/scripts", {"name": "broken", "source": "export default () => {\n  let x = ;\n}"})
    check("source that does not compile: 422 with SQLSTATE 42601, line and column",
          problem(r, 422, sqlstate="42601") and r[2].get("line") == 2 and isinstance(r[2].get("column"), int), r[:3])
    r = call("POST", "/scripts", {"name": "tz", "source": "export default () => 1", "timezone": "Mars/Base"})
    check("a bad setting: 422 naming the field", problem(r, 422, sqlstate="22023", field="timezone"), r[:3])
    r = call("POST", "/scripts", {"source": "export default () => 1"})
    check("a missing name: 422 naming the field", problem(r, 422, field="name"), r[:3])
    r = call("POST", "/scripts", {"name": "noop", "source": "export default () => 1"}, key="viewer")
    check("viewer may not create: 403 (SQLSTATE 42501)", problem(r, 403, sqlstate="42501"), r[:3])

    for i in range(5):
        call("POST", "/scripts", {"name": f"page{i}", "source": "export default () => 1", "tags": ["paged"]})
    r = call("GET", "/scripts/greet", key="viewer")
    check("get: the script, its source and ETag", r[0] == 200 and r[2]["name"] == "greet" and "source" in r[2]
          and r[1]["etag"] == r[2]["etag"], r[:3])
    names, cursor, pages = [], None, 0
    while True:
        s, _, j, _ = call("GET", "/scripts?tags=paged&limit=2" + (f"&cursor={cursor}" if cursor else ""), key="viewer")
        if s != 200:
            break
        names += [x["name"] for x in j["items"]]
        pages += 1
        cursor = j["next_cursor"]
        if not cursor:
            break
    check("list: keyset pages by name", names == [f"page{i}" for i in range(5)] and pages == 3, (names, pages))
    s, _, j, _ = call("GET", "/scripts?search=hello&type=oneoff&status=draft&metadata=%7B%22team%22%3A%22core%22%7D", key="viewer")
    check("list: search, type, status and metadata filters", s == 200 and [x["name"] for x in j["items"]] == ["greet"]
          and "last_run_status" in j["items"][0] and "next_run_at" in j["items"][0], (s, j))
    r = call("GET", "/scripts?limit=0", key="viewer")
    check("list: a bad limit is 400 naming it", problem(r, 400, field="limit"), r[:3])

    # ETag and If-Match
    etag = call("GET", "/scripts/greet")[1]["etag"]
    r = call("PATCH", "/scripts/greet", {"source": "export default (ctx) => ({hi: ctx.input.who ?? 'there'})",
                                          "change_description": "friendlier"}, headers={"If-Match": etag})
    check("update with the current ETag: 200, version 2, a new ETag", r[0] == 200 and r[2]["version"] == 2
          and r[1]["etag"] != etag, r[:3])
    r = call("PATCH", "/scripts/greet", {"description": "overwrites"}, headers={"If-Match": etag})
    check("update with a stale ETag: 412, nothing changed", problem(r, 412) and r[1].get("etag")
          and call("GET", "/scripts/greet")[2]["description"] == "says hello", r[:3])
    r = call("PATCH", "/scripts/greet", {"tags": ["demo"]}, headers={"If-Match": call("GET", "/scripts/greet")[1]["etag"]})
    check("a settings change also changes the ETag", r[0] == 200 and r[1]["etag"] not in (etag,), r[:3])

    # status
    r = call("POST", "/scripts/greet/status", {"status": "active"})
    check("status change: draft to active", r[0] == 200 and r[2]["status"] == "active", r[:3])
    r = call("POST", "/scripts/greet/status", {"status": "draft"})
    check("an impossible status change: 409 (SQLSTATE 55000)", problem(r, 409, sqlstate="55000"), r[:3])

    # versions, diff, rollback
    s, _, j, _ = call("GET", "/scripts/greet/versions", key="viewer")
    check("versions: newest first", s == 200 and [v["version"] for v in j["items"]] == [2, 1], j)
    s, _, j, _ = call("GET", "/scripts/greet/versions/1", key="viewer")
    check("one version's source", s == 200 and "'world'" in j["source"], j)
    r = call("GET", "/scripts/greet/versions/9", key="viewer")
    check("a version that does not exist: 404", problem(r, 404), r[:3])
    s, _, j, _ = call("GET", "/scripts/greet/diff?from=1&to=2", key="viewer")
    check("diff between two versions", s == 200 and "-export default (ctx) => ({hi: ctx.input.who ?? 'world'})" in j["diff"]
          and "+export default (ctx) => ({hi: ctx.input.who ?? 'there'})" in j["diff"], j)
    r = call("POST", "/scripts/greet/rollback", {"version": 1})
    check("rollback: version 3 with version 1's source", r[0] == 200 and r[2]["version"] == 3
          and "'world'" in r[2]["source"], r[:3])
    r = call("POST", "/scripts/greet/rollback", {"version": 1}, key="viewer")
    check("viewer may not roll back: 403", problem(r, 403), r[:3])

    # delete: admin only
    r = call("DELETE", "/scripts/page4")
    check("developer may not delete: 403", problem(r, 403), r[:3])
    r = call("DELETE", "/scripts/page4", key="admin", headers={"If-Match": '"0-0"'})
    check("delete with a stale ETag: 412", problem(r, 412), r[:3])
    r = call("DELETE", "/scripts/page4", key="admin")
    check("admin deletes: 204, then 404", r[0] == 204 and call("GET", "/scripts/page4")[0] == 404, r[:3])


# ---------------------------------------------------------------- runs

def wait_status(run_id, want, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        s, _, j, _ = call("GET", f"/runs/{run_id}", key="viewer")
        if s == 200 and j["status"] in want:
            return j
        time.sleep(0.1)
    return None


def runs():
    r = call("POST", "/scripts/greet/runs", {"input": {"who": "ann"}})
    check("start: 202 pending with Location", r[0] == 202 and r[2]["status"] == "pending"
          and r[1]["location"] == f"{API}/runs/{r[2]['id']}", r[:3])
    done = wait_status(r[2]["id"], ("completed", "failed"))
    check("the queued run completes", done and done["status"] == "completed" and done["output"] == {"hi": "ann"}, done)
    r = call("POST", "/scripts/greet/runs", {"input": {"who": "bo"}, "wait": 10})
    check("start with wait: 200 with the finished run", r[0] == 200 and r[2]["status"] == "completed"
          and r[2]["output"] == {"hi": "bo"}, r[:3])
    r = call("POST", "/scripts/greet/runs", {"wait": 999})
    check("a wait over the cap: 422", problem(r, 422, field="wait"), r[:3])
    r = call("POST", "/scripts/greet/runs", {}, key="viewer")
    check("viewer may not start runs: 403", problem(r, 403), r[:3])

    # live progress, then cancel
    call("POST", "/scripts", {"name": "long", "status": "active", "source":
         "export default async (ctx) => { ctx.progress(1, 10, 'step one'); console.log('working'); "
         "const end = Date.now() + 20000; while (Date.now() < end) {} }",
         "resource_limits": {"max_execution_time_ms": 25000}})
    rid = call("POST", "/scripts/long/runs", {})[2]["id"]
    live = None
    end = time.time() + 20
    while time.time() < end:
        j = call("GET", f"/runs/{rid}", key="viewer")[2]
        if j and j.get("live") and j["live"].get("message") == "step one":
            live = j
            break
        time.sleep(0.1)
    check("get: a running run shows its live progress and log lines", live and live["status"] == "running"
          and live["live"]["progress_done"] == 1 and "working" in json.dumps(live["live"]["logs"]), live)
    r = call("POST", f"/runs/{rid}/cancel", key="viewer")
    check("viewer may not cancel: 403", problem(r, 403), r[:3])
    r = call("POST", f"/runs/{rid}/cancel")
    done = wait_status(rid, ("cancelled", "completed", "failed"))
    check("cancel a running run", r[0] == 200 and r[2]["cancelled"] is True and done and done["status"] == "cancelled",
          (r[:3], done))

    # replay with an edited input
    first = call("POST", "/scripts/greet/runs", {"input": {"who": "cy"}, "wait": 10})[2]
    r = call("POST", f"/runs/{first['id']}/replay", {"input": {"who": "dee"}})
    again = wait_status(r[2]["id"], ("completed", "failed"))
    check("replay with an edited input", r[0] == 202 and again and again["output"] == {"hi": "dee"}, (r[:3], again))
    r = call("POST", f"/runs/{first['id']}/replay", {})
    again = wait_status(r[2]["id"], ("completed", "failed"))
    check("replay with the original input", again and again["output"] == {"hi": "cy"}, again)

    s, _, j, _ = call("GET", "/runs?script=greet&status=completed&input=%7B%22who%22%3A%22dee%22%7D", key="viewer")
    check("list: script, status and input containment filters", s == 200 and len(j["items"]) == 1
          and j["items"][0]["script"] == "greet", j)
    call("POST", "/scripts", {"name": "oops", "status": "active", "source":
         "export default () => { console.log('needle in logs'); throw new Error('a distinct failure') }"})
    call("POST", "/scripts/oops/runs", {"wait": 10})
    s, _, j, _ = call("GET", "/runs?q=distinct%20FAILURE", key="viewer")
    s2, _, j2, _ = call("GET", "/runs?q=needle&trigger=manual&status=failed", key="viewer")
    check("list: text in the error or the logs", s == 200 and len(j["items"]) == 1 and j["items"][0]["script"] == "oops"
          and s2 == 200 and len(j2["items"]) == 1, (j, j2))
    r = call("GET", "/runs/not-a-uuid", key="viewer")
    check("a run id that is not a uuid: 404", problem(r, 404), r[:3])


def parked_waits():
    """A run's wait is parked in the front door: with one runner for the
    tenant, its other requests are answered while the wait goes on."""
    import threading
    psql("ALTER SYSTEM SET jsrt.http_max_runners_per_tenant = 1")
    psql("SELECT pg_reload_conf()")
    time.sleep(1)
    try:
        r = call("POST", "/scripts", {"name": "sleepy", "type": "oneoff",
                                       "source": "export default () => { const end = Date.now() + 3000; while (Date.now() < end) {} return 'rested' }"})
        check("a slow script is created", r[0] == 201, r[:3])
        waited = {}
        t = threading.Thread(target=lambda: waited.update(r=call("POST", "/scripts/sleepy/runs", {"wait": 20})))
        t.start()
        time.sleep(0.5)
        listed = call("GET", "/scripts?limit=1")
        parked = t.is_alive()
        check("while a wait is parked, the tenant's one runner answers its other requests",
              listed[0] == 200 and parked, (listed[0], parked))
        t.join(60)
        w = waited.get("r")
        check("the parked wait answers 200 with the finished run", w is not None and w[0] == 200
              and w[2]["status"] == "completed" and w[2]["output"] == "rested"
              and not any(k.lower() == "x-jsrt-park" for k in w[1]), w and w[:3])
        w = call("POST", "/scripts/sleepy/runs", {"wait": 1})
        check("a wait that ends first answers 202 with the run going on", w[0] == 202
              and w[2]["status"] in ("pending", "running"), w[:3])
        wait_status(w[2]["id"], ("completed", "failed"))
    finally:
        psql("ALTER SYSTEM RESET jsrt.http_max_runners_per_tenant")
        psql("SELECT pg_reload_conf()")


def pagination():
    # 100,000 finished runs of one script, written directly
    sid = psql("SELECT id FROM jsrt.scripts WHERE name = 'page0'")
    tid = psql("SELECT id FROM jsrt.tenants WHERE name = 'api_a'")
    psql(f"""INSERT INTO jsrt.script_executions (script_id, tenant_id, status, trigger_type, started_at, completed_at, version_number)
             SELECT '{sid}', '{tid}', CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'completed' END, 'manual',
                    now() - make_interval(secs => g / 7), now(), 1 FROM generate_series(1, 100000) g""")
    seen, cursor, pages, slowest, ordered = set(), None, 0, 0.0, True
    last = None
    t0 = time.time()
    while True:
        t = time.time()
        s, _, j, _ = call("GET", "/runs?script=page0&limit=1000" + (f"&cursor={cursor}" if cursor else ""), key="viewer")
        slowest = max(slowest, time.time() - t)
        if s != 200:
            break
        for x in j["items"]:
            key = (x["started_at"], x["id"])
            if last and key > last:
                ordered = False
            last = key
            seen.add(x["id"])
        pages += 1
        cursor = j["next_cursor"]
        if not cursor:
            break
    check(f"100,000 runs in 100 keyset pages, each once, newest first "
          f"(slowest page {slowest * 1000:.0f} ms, all {time.time() - t0:.1f} s)",
          len(seen) == 100000 and pages == 100 and ordered, (len(seen), pages, ordered))
    s, _, j, _ = call("GET", "/runs?script=page0&status=failed&limit=5", key="viewer")
    check("a filtered page of the 100,000", s == 200 and len(j["items"]) == 5
          and all(x["status"] == "failed" for x in j["items"]) and j["next_cursor"], s)
    r = call("GET", "/runs?cursor=garbage", key="viewer")
    check("a cursor this API did not give: 400", problem(r, 400, field="cursor"), r[:3])


# ---------------------------------------------------------------- the rest

def dead_letters_schedules_events():
    call("POST", "/scripts", {"name": "on_pay", "type": "event", "status": "active", "event_types": ["pay.done"],
                              "source": "export default () => 1"})
    sid = psql("SELECT id FROM jsrt.scripts WHERE name = 'on_pay'")
    tid = psql("SELECT id FROM jsrt.tenants WHERE name = 'api_a'")
    for i in range(3):
        psql(f"""INSERT INTO jsrt.script_event_dead_letters (script_id, tenant_id, event_type, event_data, error)
                 VALUES ('{sid}', '{tid}', 'pay.done', '{{"payload": {{"n": {i}}}}}', 'it failed')""")
    s, _, j, _ = call("GET", "/dead-letters?script=on_pay&limit=2", key="viewer")
    check("dead letters: a page of 2 with a cursor", s == 200 and len(j["items"]) == 2 and j["next_cursor"], j)
    dl = j["items"][0]["id"]
    r = call("POST", f"/dead-letters/{dl}/retry")
    check("retry a dead letter: a queued run", r[0] == 202 and r[2]["status"] == "pending", r[:3])
    r = call("POST", "/dead-letters/redrive", {"script": "on_pay", "event_type": "pay.done"})
    # the one retried above may have run and deleted its dead letter meanwhile
    check("redrive with filters", r[0] == 200 and r[2]["redriven"] in (2, 3), r[:3])
    r = call("POST", "/dead-letters/redrive", {}, key="viewer")
    check("viewer may not redrive: 403", problem(r, 403), r[:3])

    call("POST", "/scripts", {"name": "tick", "type": "scheduled", "status": "active", "cron_expression": "*/5 * * * *",
                              "timezone": "Europe/Paris", "source": "export default () => 1"})
    s, _, j, _ = call("GET", "/scripts/tick/schedule?count=3", key="viewer")
    times = j and j.get("next_runs")
    check("a schedule's next 3 run times, 5 minutes apart", s == 200 and len(times) == 3
          and all(t[14:16] in ("00", "05", "10", "15", "20", "25", "30", "35", "40", "45", "50", "55") for t in times), j)
    s, _, j, _ = call("GET", "/schedules?count=2", key="viewer")
    check("the tenant's schedules", s == 200 and [x["script"] for x in j["items"]] == ["tick"]
          and len(j["items"][0]["next_runs"]) == 2 and j["items"][0]["next_run_at"], j)
    r = call("GET", "/scripts/greet/schedule", key="viewer")
    check("a script without a schedule: 404", problem(r, 404), r[:3])

    r = call("POST", "/events", {"type": "pay.done", "payload": {"n": 9}})
    check("emit an event: 201 with its id", r[0] == 201 and isinstance(r[2]["id"], int), r[:3])
    r = call("POST", "/events", {"type": "pay.done"}, key="viewer")
    check("viewer may not emit: 403", problem(r, 403), r[:3])


def secrets_and_keys():
    r = call("PUT", "/secrets/stripe_key", {"value": "sk_live_123"}, key="admin")
    check("admin sets a secret: 204", r[0] == 204, r[:3])
    s, _, j, text = call("GET", "/secrets", key="viewer")
    check("secrets list names, never values", s == 200 and [x["name"] for x in j["items"]] == ["stripe_key"]
          and b"sk_live_123" not in text, j)
    r = call("PUT", "/secrets/other", {"value": "v"})
    check("developer may not set secrets: 403", problem(r, 403), r[:3])
    r = call("DELETE", "/secrets/stripe_key", key="admin")
    r2 = call("DELETE", "/secrets/stripe_key", key="admin")
    check("delete a secret: 204, then 404", r[0] == 204 and problem(r2, 404), (r[:3], r2[:3]))

    r = call("POST", "/api-keys", {"name": "ci", "role": "jsrt_viewer"}, key="admin")
    new = r[2] and r[2].get("key")
    check("admin makes a key: 201, shown once", r[0] == 201 and new, r[:3])
    s = call("GET", "/scripts", key=None, headers={"X-API-Key": new})[0] if new else 0
    check("the new key works", s == 200, s)
    s, _, j, text = call("GET", "/api-keys", key="viewer")
    check("keys list without hashes", s == 200 and "ci" in [x["name"] for x in j["items"]] and b"key_hash" not in text, j)
    r = call("POST", "/api-keys", {"name": "x"})
    check("developer may not make keys: 403", problem(r, 403), r[:3])
    r = call("POST", "/api-keys", {"name": "boss", "role": "jsrt_superadmin"}, key="admin")
    check("an admin may not make a superadmin key: 403", problem(r, 403), r[:3])
    r = call("DELETE", "/api-keys/ci", key="admin")
    time.sleep(0.2)
    s = call("GET", "/scripts", key=None, headers={"X-API-Key": new})[0] if new else 0
    check("revoke a key: 204, then it is refused (401)", r[0] == 204 and s == 401, (r[:3], s))


def deploy():
    before = call("GET", "/scripts/page1")[2]["version"]
    bundle = {"scripts": [
        {"name": "bundled_new", "source": "export default () => 'new'", "type": "oneoff"},
        {"name": "page1", "source": "export default () => 'changed'"},
        {"name": "page2", "source": "export default () => 1", "tags": ["paged"]},
    ]}
    r = call("POST", "/deploy", bundle)
    check("deploy: created, updated, unchanged", r[0] == 200 and [x["action"] for x in r[2]["scripts"]]
          == ["created", "updated", "unchanged"] and r[2]["scripts"][1]["version"] == before + 1, r[:3])
    r = call("POST", "/deploy", bundle)
    check("the same bundle again changes nothing", r[0] == 200
          and [x["action"] for x in r[2]["scripts"]] == ["unchanged"] * 3, r[:3])
    bad = {"scripts": [
        {"name": "bundled_two", "source": "export default () => 2"},
        {"name": "page1", "source": "export default () => 'changed again'"},
        {"name": "bundled_bad", "source": "export default () => {"},
    ]}
    r = call("POST", "/deploy", bad)
    check("a bundle with one bad script: 422 naming it, with a JSON pointer",
          problem(r, 422, sqlstate="42601", index=2, script="bundled_bad", pointer="/scripts/2"), r[:3])
    check("... and nothing of it is applied", call("GET", "/scripts/bundled_two")[0] == 404
          and call("GET", "/scripts/page1")[2]["version"] == before + 1, "")
    r = call("POST", "/deploy", bundle, key="viewer")
    check("viewer may not deploy: 403", problem(r, 403), r[:3])


def dry_runs():
    r = call("POST", "/scripts/dry_sql/dry-run", {"input": {}})
    w = {(x["table"], x["operation"]): x["count"] for x in (r[2] or {}).get("writes", [])}
    check("dry run over the API: the rows written, none kept", r[0] == 200 and r[2]["ok"]
          and w.get(("public.api_orders", "insert")) == 2 and psql("SELECT count(*) FROM public.api_orders") == "1", r[:3])
    r = call("POST", "/scripts/dry_sql/dry-run", {"source": "export default (ctx) => ctx.input.n * 2", "input": {"n": 21}})
    check("dry run of an edited source with an input", r[0] == 200 and r[2]["output"] == 42 and r[2]["writes"] == [], r[:3])
    r = call("POST", "/scripts/dry_sql/dry-run", {}, key="viewer")
    check("viewer may not dry-run: 403", problem(r, 403), r[:3])


def input_schemas():
    schema = {"type": "object", "required": ["amount"],
              "properties": {"amount": {"type": "number"}, "items": {"type": "array", "items": {"type": "string"}}}}
    r = call("POST", "/scripts", {"name": "typed", "status": "active", "input_schema": schema,
                                   "source": "export default (ctx) => ctx.input.amount * 2"})
    check("a script with an input_schema", r[0] == 201 and r[2]["input_schema"] == schema, r[:3])
    r = call("POST", "/scripts", {"name": "typed_bad", "input_schema": {"type": "nothing"},
                                   "source": "export default () => 1"})
    check("an input_schema that is not a JSON Schema: 422 naming it", problem(r, 422, sqlstate="22023", field="input_schema"), r[:3])
    r = call("POST", "/scripts/typed/runs", {"input": {"amount": 2, "items": ["a", 3]}})
    check("a refused input: 422 with SQLSTATE 22023 and the JSON pointer", problem(r, 422, sqlstate="22023", field="input",
          pointer="/items/1"), r[:3])
    r = call("POST", "/scripts/typed/runs", {"input": {"amount": 21}, "wait": 10})
    check("an input that fits runs", r[0] == 200 and r[2]["output"] == 42, r[:3])
    r = call("POST", "/scripts/typed/dry-run", {"input": {}})
    check("a dry run checks the input too", problem(r, 422, pointer=""), r[:3])
    out = psql("SELECT jsrt.set_tenant('api_a'); SELECT jsrt.execute('typed', '{\"amount\": \"x\"}')", errors=True)
    check("jsrt.execute refuses it in SQL: 22023 with the pointer", "22023" in out and 'pointer "/amount"' in out, out)


def sse_events(text):
    events, cur = [], {}
    for line in text.decode().split("\n"):
        if not line:
            if cur:
                events.append(cur)
            cur = {}
        elif ":" in line:
            k, v = line.split(":", 1)
            cur[k] = v.strip()
    return events


def stream():
    s, h, _, text = call("GET", "/runs/stream?wait=0", key="viewer")
    evs = sse_events(text)
    since = evs[-1].get("id") if evs else None
    check("the run stream is text/event-stream with a retry and a resume point",
          s == 200 and h.get("content-type") == "text/event-stream" and b"retry: 1000" in text and since, (s, text[:200]))
    run = call("POST", "/scripts/greet/runs", {"input": {"who": "sse"}, "wait": 10})[2]
    s, _, _, text = call("GET", "/runs/stream?script=greet&wait=5", key="viewer", headers={"Last-Event-ID": since})
    mine = [json.loads(e["data"]) for e in sse_events(text) if e.get("event") == "run"]
    mine = [e for e in mine if e["id"] == run["id"]]
    check("the stream has the run's update after Last-Event-ID", s == 200 and mine and mine[-1]["status"] == "completed",
          (s, text[:300]))
    last = sse_events(text)[-1]["id"]
    t = time.time()
    s, _, _, text = call("GET", "/runs/stream?script=greet&wait=1", key="viewer", headers={"Last-Event-ID": last})
    check("from the last event's id, nothing again: the request waits, then ends", s == 200
          and b"event: run" not in text and time.time() - t >= 0.9, text[:200])
    r = call("GET", "/runs/stream", key="b_admin", headers={"Last-Event-ID": since})
    check("another tenant's stream has none of these runs", r[0] == 200 and run["id"].encode() not in r[3], r[3][:200])


def cross_tenant():
    b = "b_admin"
    r = call("GET", "/scripts/greet", key=b)
    check("another tenant's script by name: 404", problem(r, 404), r[:3])
    sid = call("GET", "/scripts/greet")[2]["id"]
    check("another tenant's script by id: 404", problem(call("GET", f"/scripts/{sid}", key=b), 404), "")
    check("... nor changed, deleted or run", problem(call("PATCH", f"/scripts/{sid}", {"description": "x"}, key=b), 404)
          and problem(call("DELETE", f"/scripts/{sid}", key=b), 404)
          and problem(call("POST", f"/scripts/{sid}/runs", {}, key=b), 404), "")
    for path in (f"/runs/{B_RUN}", f"/scripts/{B_SCRIPT}"):
        r = call("GET", path)
        check(f"tenant a's key cannot read tenant b's {path.split('/')[1]}: 404", problem(r, 404), r[:3])
    r = call("POST", f"/runs/{B_RUN}/cancel", key="admin")
    check("... nor cancel its run", problem(r, 404), r[:3])
    r = call("POST", f"/runs/{B_RUN}/replay", {}, key="admin")
    check("... nor replay it", problem(r, 404), r[:3])
    s, _, j, _ = call("GET", "/runs?limit=1000", key="admin")
    check("tenant a's run list has none of tenant b's runs", s == 200 and B_RUN not in json.dumps(j), s)
    r = call("GET", "/scripts", key="admin", headers={"X-Jsrt-Tenant": "api_b"})
    check("a tenant admin naming another tenant: 403", problem(r, 403), r[:3])
    s, _, j, _ = call("GET", "/scripts", key="super")
    check("a superadmin key acts in its own tenant by default", s == 200
          and "b_secret_job" not in [x["name"] for x in j["items"]] and "greet" in [x["name"] for x in j["items"]], j)
    s, _, j, _ = call("GET", "/scripts", key="super", headers={"X-Jsrt-Tenant": "api_b"})
    check("a superadmin key may name a tenant", s == 200 and [x["name"] for x in j["items"]] == ["b_secret_job"], j)
    r = call("GET", "/scripts", key="super", headers={"X-Jsrt-Tenant": "nope"})
    check("a superadmin naming no tenant: 404", problem(r, 404), r[:3])


document()
auth()
scripts()
runs()
dead_letters_schedules_events()
secrets_and_keys()
deploy()
dry_runs()
input_schemas()
stream()
cross_tenant()
parked_waits()
pagination()
finish("api")
