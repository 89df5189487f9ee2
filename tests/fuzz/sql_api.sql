-- The SQL API's arguments under random and hostile values: fuzz.sql_api(seed,
-- calls, internals) calls functions of schema jsrt (the public API; with
-- internals, the _functions too) with values picked for each argument's
-- type: NULLs, huge text, bad identifiers, hostile jsonb options, extreme
-- numbers. Every refusal must carry a SQLSTATE outside class XX (internal
-- error) and a message. Returns {calls, ok, states: {sqlstate: count}, bad: [...]}.
-- Loaded by tests/fuzz/run.sh into the test database (not the extension).

CREATE SCHEMA IF NOT EXISTS fuzz;
GRANT USAGE ON SCHEMA fuzz TO PUBLIC;

-- One SQL expression of type `t`.
CREATE OR REPLACE FUNCTION fuzz.arg(t regtype) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    texts text[] := ARRAY[
        'NULL', '''''', '''ctx_fuzz''', '''fuzz''', '''nope''', 'repeat(''x'', 1000000)', 'repeat(''é'', 100000)',
        '''"''', '''a.b.c''', '''public.fuzz_rows''', '''jsrt.scripts''', '''1abc''', ''' ''', 'E''\t\n''',
        '''$$''', '''x''''); DROP TABLE public.fuzz_rows; --''', '''export default () => 1''',
        '''export default (ctx) => ctx.input''', '''export default async (ctx) => { await null; return [1] }''',
        '''syntax error (''', '''* * * * *''', '''61 * * * *''', '''/fuzz/:id''', '''/../x''', '''oneoff''', '''event''',
        '''cron''', '''http''', '''function''', '''active''', '''paused''', '''draft''', '''disabled''', '''archived''',
        '''jsrt_developer''', '''UTC''', '''Mars/Olympus''', '''00000000-0000-0000-0000-000000000000''',
        '''f(x int) RETURNS int''', '''fuzz_f(int, text) RETURNS SETOF record''', '''fuzz_g() RETURNS trigger''',
        '''GET''', '''fuzz.event''', '''jsrt.run.failed''', 'repeat(''a'', 64)', '''\x00''', '''💥''',
        'gen_random_uuid()::text'];
    jsons text[] := ARRAY[
        'NULL', '''null''', '''{}''', '''[]''', '''1''', '''"s"''', '''{"status": "active"}''', '''{"status": 5}''',
        '''{"resource_limits": {"max_execution_time_ms": -1}}''', '''{"resource_limits": {"max_memory_bytes": 1e30}}''',
        '''{"resource_limits": "x"}''', '''{"resource_limits": {"nope": 1}}''', '''{"cron_expression": "61 * * * *"}''',
        '''{"http_path": "/../x", "http_methods": ["TRACE"]}''', '''{"event_types": [1, null]}''', '''{"tags": "x"}''',
        '''{"input_schema": {"type": "nope"}}''', '''{"input_schema": {"$ref": "#"}}''', '''{"timezone": "Mars/Base"}''',
        '''{"retry": {"attempts": 1e10}}''', '''{"catch_up_window_s": "x"}''', '''{"organization_id": "nope"}''',
        '''{"history": "sometimes"}''', '''{"overlap": 1}''', '''{"http_auth": "none", "http_path": "/p"}''',
        '(repeat(''['', 5000) || repeat('']'', 5000))::text', '(SELECT jsonb_object_agg(''k'' || g, g) FROM generate_series(1, 20000) g)::text',
        '''{"seed": 1, "calls": 5}''', '''{"a": "\ud800"}''', '''{"": {"": [null, 1.5e308, -0]}}'''];
    ints text[] := ARRAY['NULL', '0', '-1', '1', '100', '2147483647', '-2147483648'];
BEGIN
    RETURN CASE
        WHEN t IN ('text'::regtype, 'name'::regtype, 'character varying'::regtype) THEN
            texts[1 + floor(random() * array_length(texts, 1))::int] || '::' || t::text
        WHEN t IN ('jsonb'::regtype, 'json'::regtype) THEN
            jsons[1 + floor(random() * array_length(jsons, 1))::int] || '::' || t::text
        WHEN t IN ('integer'::regtype, 'bigint'::regtype, 'smallint'::regtype) THEN
            ints[1 + floor(random() * array_length(ints, 1))::int] || '::' || t::text
        WHEN t = 'boolean'::regtype THEN (ARRAY['NULL::bool', 'true', 'false'])[1 + floor(random() * 3)::int]
        WHEN t = 'uuid'::regtype THEN (ARRAY['NULL::uuid', 'gen_random_uuid()', '''00000000-0000-0000-0000-000000000000''::uuid',
            '(SELECT e.id FROM jsrt.script_executions e ORDER BY random() LIMIT 1)',
            '(SELECT s.id FROM jsrt.scripts s ORDER BY random() LIMIT 1)'])[1 + floor(random() * 5)::int]
        WHEN t = 'regclass'::regtype THEN (ARRAY['NULL::regclass', '''public.fuzz_rows''::regclass', '''jsrt.scripts''::regclass',
            '''pg_class''::regclass', '''jsrt.secrets''::regclass', '''fuzz.arg_target''::regclass'])[1 + floor(random() * 6)::int]
        WHEN t = 'regrole'::regtype THEN (ARRAY['NULL::regrole', '''jsrt_fuzzer''::regrole', '''postgres''::regrole',
            '''jsrt_script''::regrole', '''jsrt_developer''::regrole'])[1 + floor(random() * 5)::int]
        WHEN t = 'timestamp with time zone'::regtype THEN (ARRAY['NULL::timestamptz', '''infinity''::timestamptz',
            '''-infinity''::timestamptz', 'now()', '''4713-01-01 BC''::timestamptz'])[1 + floor(random() * 5)::int]
        WHEN t = 'text[]'::regtype THEN (ARRAY['NULL::text[]', '''{}''::text[]', '''{NULL}''::text[]', '''{a,b}''::text[]',
            'ARRAY[repeat(''x'', 100000)]'])[1 + floor(random() * 5)::int]
        WHEN t = 'oid'::regtype THEN (ARRAY['NULL::oid', '0::oid', '''jsrt.scripts''::regclass::oid', '4294967295::oid'])[1 + floor(random() * 4)::int]
        ELSE 'NULL::' || t::text
    END;
END $f$;

CREATE OR REPLACE FUNCTION fuzz.sql_api(seed float8, calls integer, internals boolean DEFAULT false) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    oids oid[];
    target oid;
    p record;
    types oid[];
    args text[];
    n integer;
    q text;
    st text;
    msg text;
    ok integer := 0;
    states jsonb := '{}';
    bad jsonb := '[]';
BEGIN
    SELECT array_agg(x.oid ORDER BY x.proname, x.oid) INTO oids FROM pg_proc x
     WHERE x.pronamespace = 'jsrt'::regnamespace AND x.prokind = 'f' AND x.prorettype <> 'trigger'::regtype
       AND x.proname NOT IN ('call_handler', 'validator') AND (internals OR x.proname !~ '^_');
    PERFORM setseed(seed);
    FOR i IN 1..calls LOOP
        target := oids[1 + floor(random() * array_length(oids, 1))::int];
        SELECT x.proname, x.pronargs, x.pronargdefaults,
               (SELECT array_agg(t ORDER BY k) FROM unnest(x.proargtypes::oid[]) WITH ORDINALITY u(t, k)) AS argtypes
          INTO p FROM pg_proc x WHERE x.oid = target;
        -- now and then leave out arguments that have defaults
        n := p.pronargs - floor(random() * (p.pronargdefaults + 1))::int;
        args := '{}';
        FOR k IN 1..n LOOP
            args := args || fuzz.arg(p.argtypes[k]::regtype);
        END LOOP;
        q := format('SELECT * FROM jsrt.%I(%s)', p.proname, array_to_string(args, ', '));
        BEGIN
            EXECUTE q;
            ok := ok + 1;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            states := jsonb_set(states, ARRAY[st], to_jsonb(coalesce((states->>st)::integer, 0) + 1));
            IF st LIKE 'XX%' OR coalesce(btrim(msg), '') = '' THEN
                bad := bad || jsonb_build_object('call', left(q, 400), 'sqlstate', st, 'message', left(msg, 400));
            END IF;
        END;
    END LOOP;
    RETURN jsonb_build_object('calls', calls, 'ok', ok, 'states', states, 'bad', bad);
END $$;
GRANT EXECUTE ON FUNCTION fuzz.arg(regtype), fuzz.sql_api(float8, integer, boolean) TO PUBLIC;
