#!/usr/bin/env python3
"""Values through JS and back, against psql's own text: python3 conversions.py PORT DB

A table with one column of each common type holds edge values (minimums and
maximums, NaN and infinities, unicode, BC dates and 5-digit years,
microseconds, jsonb null beside SQL NULL, arrays with other lower bounds).
Each row goes into JS and back into a copy of the table by five routes:

  db_exact   ctx.db.query with {exactTimestamps, jsonText}, then INSERT with parameters
  db_default ctx.db.query without options, one row at a time
  fn_exact   identity functions LANGUAGE jsrt, options exactTimestamps and jsonText
  fn_default the same without options, one row at a time
  trigger    a BEFORE INSERT trigger returning a copy of NEW ({...tg.new})

Each copy is compared with the original cell by cell, both printed by psql.
Exact routes must show no difference. The default routes may differ only
where the README says they do (DOCUMENTED below: microseconds cut by a Date,
json and jsonb null read as null, json text parsed), and a timestamp beyond a
JS Date must be refused (22008), not changed. An unlisted difference fails,
and so does a listed one that does not show. Prints one line per check, then
"integration: N passed, M failed".
"""
import subprocess
import sys

from checks import check, finish

PORT, DB = sys.argv[1], sys.argv[2]
PSQL = ["psql", "-X", "-q", "-At", "-h", "/tmp", "-p", PORT, "-U", "postgres", DB,
        "-v", "ON_ERROR_STOP=1", "-P", "null=<NULL>", "-F", "\x1f", "-R", "\x1e"]

COLUMNS = [
    ("c_int2", "int2"), ("c_int4", "int4"), ("c_int8", "int8"), ("c_numeric", "numeric"),
    ("c_float4", "float4"), ("c_float8", "float8"), ("c_bool", "bool"), ("c_text", "text"),
    ("c_bytea", "bytea"), ("c_date", "date"), ("c_time", "time"), ("c_timestamp", "timestamp"),
    ("c_timestamptz", "timestamptz"), ("c_interval", "interval"), ("c_uuid", "uuid"),
    ("c_json", "json"), ("c_jsonb", "jsonb"), ("c_int_arr", "int[]"), ("c_text_arr", "text[]"),
    ("c_inet", "inet"),
]
# One row per line: SQL literals in COLUMNS order.
ROWS = {
    1: ["-32768", "-2147483648", "-9223372036854775808", "'-123456789012345678901234567890.123456789012345'",
        "'-3.4028235e38'", "'-1.7976931348623157e308'", "false", "'héllo ✓ 日本 \"q\" \\ end 🎉'",
        "'\\x00ff10'", "'4713-01-01 BC'", "'00:00:00'", "'4713-01-01 00:00:00 BC'",
        "'4713-01-01 00:00:00+00 BC'", "'-178000000 years'", "'00000000-0000-0000-0000-000000000000'",
        "'{\"b\": 1,  \"a\": [1, 2.50]}'", "'{\"n\": 12345678901234567890.5, \"s\": \"x\"}'",
        "'[0:2]={1,2,3}'", "'{\"a b\",NULL,\"c\\\"d\",\"\"}'", "'192.168.0.1/24'"],
    2: ["32767", "2147483647", "9223372036854775807", "'99999999999999999999999999999999.99'",
        "'3.4028235e38'", "'1.7976931348623157e308'", "true", "''", "'\\x'", "'5874897-12-31'",
        "'24:00:00'", "'294276-12-31 23:59:59.999999'", "'294276-12-31 23:59:59.999999+00'",
        "'178000000 years'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "'null'", "'null'",
        "'{{1,2},{3,4}}'", "'{}'", "'::1'"],
    3: ["0", "1", "9007199254740993", "'0.1'", "'0.1'", "'0.1'", "true", "'plain'", "'\\xdeadbeef'",
        "'0044-03-15 BC'", "'12:30:00.123456'", "'2024-02-29 12:30:00.123456'",
        "'2024-02-29 12:30:00.123456+00'", "'1 day 02:03:04.567891'",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'\"str\"'", "'{\"a\": null, \"b\": [true, 1e-7]}'",
        "'{1,NULL,3}'", "'{x}'", "'2001:db8::1'"],
    4: ["NULL"] * len(COLUMNS),
    5: ["-1", "-1", "-9007199254740993", "'NaN'", "'NaN'", "'-Infinity'", "false", "'tab\there'",
        "'\\x00'", "'10000-01-01'", "'23:59:59.999999'", "'10000-01-01 00:00:00'",
        "'10000-01-01 00:00:00+00'", "'-1 mons +2 days -00:00:03'", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12'",
        "'[]'", "'[null, {\"k\": null}]'", "'{}'", "'{\"\\\\\"}'", "'10.0.0.0/8'"],
    6: ["1", "2", "3", "'1e-30'", "'Infinity'", "'5e-324'", "true", "'x'", "'\\x01'", "'2024-01-01'",
        "'01:02:03'", "'1970-01-01 00:00:00'", "'1969-12-31 23:59:59.999+00'", "'0'",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13'", "'1.0'", "'1.0'", "'[-5:-4]={7,8}'", "'{NULL}'", "'0.0.0.0/0'"],
}
# Where the default routes may differ (row, column): the README's words.
MICROSECONDS = "a Date holds milliseconds: microseconds are cut (option exactTimestamps keeps them)"
JSON_NULL = "json and jsonb null read as null, which writes SQL NULL (option jsonText keeps them apart)"
JSON_TEXT = "json is parsed: its spacing and key order are not kept (option jsonText keeps its text)"
JSON_NUMBER = "JSON numbers are read as doubles (option jsonText keeps their text)"
DOCUMENTED = {
    (1, "c_json"): JSON_TEXT, (1, "c_jsonb"): JSON_NUMBER,
    (2, "c_json"): JSON_NULL, (2, "c_jsonb"): JSON_NULL,
    (3, "c_timestamp"): MICROSECONDS, (3, "c_timestamptz"): MICROSECONDS,
    (6, "c_json"): JSON_TEXT, (6, "c_jsonb"): JSON_NUMBER,
}
# Rows the default routes must refuse: a timestamp beyond a JS Date; and through
# ctx.db, a JSON string read as a JS string, which a json parameter takes as JSON
# text (README: strings go in as they are; JSON.stringify it, or use jsonText).
REFUSED = {2: "22008"}
REFUSED_DB = {2: "22008", 3: "22P02"}

def psql(sql):
    r = subprocess.run(PSQL, input=sql, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return r.stdout


def rows_of(table):
    out = psql(f"SELECT * FROM conv.{table} ORDER BY id;")
    rows = {}
    for line in out.split("\x1e"):
        if not line.strip("\n"):
            continue
        cells = line.lstrip("\n").split("\x1f")
        rows[int(cells[0])] = dict(zip(["id"] + [c for c, _ in COLUMNS], cells))
    return rows


def compare(route, table, allowed, refused):
    src, dst = rows_of("src"), rows_of(table)
    seen = set()
    unexpected = 0
    for rid, row in src.items():
        if rid in refused:
            check(f"{route}: row {rid} is refused, not changed", rid not in dst,
                  "it was copied" if rid in dst else "")
            continue
        if rid not in dst:
            check(f"{route}: row {rid} copied", False, "missing")
            continue
        for col, _ in COLUMNS:
            a, b = row[col], dst[rid][col]
            if a == b:
                continue
            if (rid, col) in allowed:
                seen.add((rid, col))
            else:
                unexpected += 1
                check(f"{route}: row {rid} {col}", False, f"psql shows {a!r}, the copy {b!r}")
    check(f"{route}: every other cell of {len(src)} rows x {len(COLUMNS)} columns is exact", unexpected == 0)
    for key, why in allowed.items():
        if key[0] in refused:
            continue
        check(f"{route}: row {key[0]} {key[1]} differs as documented ({why})", key in seen)


def main():
    cols = ", ".join(f"{c} {t}" for c, t in COLUMNS)
    names = ", ".join(c for c, _ in COLUMNS)
    values = ",\n".join(f"({rid}, {', '.join(vals)})" for rid, vals in ROWS.items())
    params = ", ".join(f"${i + 1}" for i in range(len(COLUMNS) + 1))
    tables = ["db_exact", "db_default", "fn_exact", "fn_default", "trg"]
    psql(f"""
RESET jsrt.tenant;
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS conv CASCADE;
DELETE FROM jsrt.scripts WHERE tenant_id = (SELECT id FROM jsrt.tenants WHERE name = 'conv');
CREATE SCHEMA conv;
CREATE TABLE conv.src (id int PRIMARY KEY, {cols});
INSERT INTO conv.src (id, {names}) VALUES {values};
""" + "".join(f"CREATE TABLE conv.{t} (LIKE conv.src);\n" for t in tables) + f"""
GRANT USAGE ON SCHEMA conv TO jsrt_script;
GRANT SELECT ON conv.src TO jsrt_script;
GRANT INSERT ON conv.db_exact, conv.db_default TO jsrt_script;
SELECT jsrt.create_tenant('conv') WHERE NOT EXISTS (SELECT 1 FROM jsrt.tenants WHERE name = 'conv');
SELECT jsrt.set_tenant('conv');
SELECT jsrt.create_script('copy_exact', $js$
export default function (ctx) {{
  const rows = ctx.db.query('SELECT * FROM conv.src ORDER BY id', [], {{exactTimestamps: true, jsonText: true}});
  for (const r of rows) ctx.db.query('INSERT INTO conv.db_exact VALUES ({params})', [r.id, {", ".join(f"r.{c}" for c, _ in COLUMNS)}]);
  return rows.length;
}}$js$, 'oneoff', '{{"status": "active"}}') IS NOT NULL;
SELECT jsrt.create_script('copy_default', $js$
export default function (ctx) {{
  const refused = {{}};
  for (const {{id}} of ctx.db.query('SELECT id FROM conv.src ORDER BY id')) {{
    try {{
      const r = ctx.db.one('SELECT * FROM conv.src WHERE id = $1', [id]);
      ctx.db.query('INSERT INTO conv.db_default VALUES ({params})', [r.id, {", ".join(f"r.{c}" for c, _ in COLUMNS)}]);
    }} catch (e) {{ refused[id] = e.code; }}
  }}
  return refused;
}}$js$, 'oneoff', '{{"status": "active"}}') IS NOT NULL;
SELECT jsrt.create_script('ident', 'export default (ctx, x) => x', 'embedded', '{{"status": "active"}}') IS NOT NULL;
SELECT jsrt.create_script('copy_row', 'export default (ctx, tg) => ({{...tg.new}})', 'embedded', '{{"status": "active"}}') IS NOT NULL;
""")
    for c, t in COLUMNS:
        psql(f"""SELECT jsrt.set_tenant('conv');
SELECT jsrt.create_function('ident', 'conv.exact_{c}(x {t}) returns {t}', '{{"exactTimestamps": true, "jsonText": true}}');
SELECT jsrt.create_function('ident', 'conv.plain_{c}(x {t}) returns {t}');""")
    psql("SELECT jsrt.set_tenant('conv'); SELECT jsrt.create_trigger('copy_row', 'conv.trg', 'insert', 'before', '{\"exactTimestamps\": true}');")

    # ctx.db
    psql("SELECT jsrt.set_tenant('conv'); SELECT jsrt.execute('copy_exact');")
    compare("ctx.db exact", "db_exact", {}, {})
    refused = psql("SELECT jsrt.set_tenant('conv'); SELECT jsrt.execute('copy_default');").strip("\x1e\n").split("\x1e")[-1].strip()
    want = "{" + ", ".join(f'"{k}": "{v}"' for k, v in REFUSED_DB.items()) + "}"
    check(f"ctx.db default: rows refused {want}", refused == want, refused)
    compare("ctx.db default", "db_default", DOCUMENTED, REFUSED_DB)

    # typed functions
    exact = ", ".join(f"conv.exact_{c}({c})" for c, _ in COLUMNS)
    psql(f"SELECT jsrt.set_tenant('conv'); INSERT INTO conv.fn_exact SELECT id, {exact} FROM conv.src;")
    compare("typed functions exact", "fn_exact", {}, {})
    plain = ", ".join(f"conv.plain_{c}({c})" for c, _ in COLUMNS)
    for rid in ROWS:
        try:
            psql(f"SELECT jsrt.set_tenant('conv'); INSERT INTO conv.fn_default SELECT id, {plain} FROM conv.src WHERE id = {rid};")
        except RuntimeError as e:
            ok = rid in REFUSED and "beyond a JS Date" in str(e)
            check(f"typed functions default: row {rid} refused with {REFUSED.get(rid)}", ok, str(e))
    compare("typed functions default", "fn_default", DOCUMENTED, REFUSED)

    # a BEFORE trigger returning a copy of NEW
    psql("SELECT jsrt.set_tenant('conv'); INSERT INTO conv.trg SELECT * FROM conv.src;")
    compare("trigger", "trg", {}, {})
    psql("SET client_min_messages = warning; DROP SCHEMA conv CASCADE;")
    finish("integration")


if __name__ == "__main__":
    main()
