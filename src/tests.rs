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
}
