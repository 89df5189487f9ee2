use pgrx::prelude::*;

use crate::error::{Error, OrRaise};

/// Behind jsrt.execute(script, input jsonb): JSON travels as text, parsed by
/// Postgres and QuickJS in C at either end.
#[pg_extern(name = "_execute")]
fn execute(script: Option<&str>, input: Option<&str>) -> Option<String> {
    crate::version::ensure();
    let Some(script) = script else {
        Error::Invalid("script must not be null: give a script name or id".into()).raise()
    };
    crate::engine::run::execute_sync(script, input.unwrap_or("{}")).or_raise()
}
