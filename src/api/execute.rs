use pgrx::prelude::*;

use crate::error::OrRaise;

/// Behind jsrt.execute(script, input jsonb): JSON travels as text, parsed by
/// Postgres and QuickJS in C at either end.
#[pg_extern(name = "_execute")]
fn execute(script: &str, input: Option<&str>) -> Option<String> {
    crate::engine::run::execute_sync(script, input.unwrap_or("{}")).or_raise()
}
