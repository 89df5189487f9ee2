//! In-database tests (cargo pgrx test): each runs in a transaction of a real
//! backend with the library preloaded.

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn setup() {
        Spi::run("SELECT jsrt.create_tenant('t1'); SELECT jsrt.set_tenant('t1')").unwrap();
    }

    /// The output of one SQL query returning jsonb.
    fn json(query: &str) -> serde_json::Value {
        Spi::get_one::<pgrx::JsonB>(query).unwrap().unwrap().0
    }

    #[pg_test]
    fn execute_returns_output_and_records_the_run() {
        setup();
        Spi::run(
            "SELECT jsrt.create_script('add', 'export default (ctx) => ctx.input.a + ctx.input.b')",
        )
        .unwrap();
        assert_eq!(
            json("SELECT jsrt.execute('add', '{\"a\": 2, \"b\": 3}')"),
            serde_json::json!(5)
        );
        let status =
            Spi::get_one::<String>("SELECT status::text FROM jsrt.script_executions").unwrap();
        assert_eq!(status.as_deref(), Some("completed"));
    }

    #[pg_test]
    fn an_update_is_seen_by_the_next_call_in_the_same_backend() {
        setup();
        Spi::run("SELECT jsrt.create_script('v', 'export default () => 1')").unwrap();
        assert_eq!(json("SELECT jsrt.execute('v')"), serde_json::json!(1));
        Spi::run("SELECT jsrt.update_script('v', 'export default () => 2')").unwrap();
        assert_eq!(json("SELECT jsrt.execute('v')"), serde_json::json!(2));
        Spi::run("SELECT jsrt.rollback_script('v', 1)").unwrap();
        assert_eq!(json("SELECT jsrt.execute('v')"), serde_json::json!(1));
    }

    #[pg_test(error = "script \"boom\" failed: Error: no (line 1:34)")]
    fn a_throwing_script_raises_an_error_with_its_place() {
        setup();
        Spi::run(
            "SELECT jsrt.create_script('boom', 'export default () => { throw new Error(\"no\") }')",
        )
        .unwrap();
        Spi::run("SELECT jsrt.execute('boom')").unwrap();
    }

    #[pg_test]
    fn a_number_result_is_byte_for_byte_the_jsonb_jsonb_in_makes() {
        use crate::engine::convert::{json_number, numeric_bytes};
        let doubles = [
            0.0,
            -1.5,
            0.1 + 0.2,
            123456789.12345679,
            1e20,
            -0.000001,
            1401764202949548.0 + 0.25,
            9007199254740993.0,
            -42.0,
            0.5e-5,
        ];
        for n in doubles {
            let text = json_number(n).unwrap();
            let bytes = numeric_bytes(&text).unwrap();
            let c = std::ffi::CString::new(text.clone()).unwrap();
            // SAFETY: in the test's transaction; both are varlenas of the sizes their headers say.
            unsafe {
                let mine = crate::engine::object_call::scalar_jsonb(&bytes);
                let theirs = pg_sys::OidInputFunctionCall(
                    pg_sys::F_JSONB_IN.into(),
                    c.as_ptr().cast_mut(),
                    pg_sys::JSONBOID,
                    -1,
                )
                .cast_mut_ptr::<u8>();
                let size = |p: *mut u8| pgrx::varlena::varsize_any(p.cast());
                assert_eq!(size(mine), size(theirs), "{text}");
                let bytes = |p: *mut u8| std::slice::from_raw_parts(p, size(p));
                assert_eq!(bytes(mine), bytes(theirs), "{text}");
            }
        }
    }
}
