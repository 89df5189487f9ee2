use pgrx::prelude::*;
use pgrx::JsonB;

use super::jsonb::JsonArg;
use crate::engine::{compile, limits};
use crate::error::{Error, OrRaise};

/// Refuses source that does not compile, naming line and column.
#[pg_extern(name = "_check_source")]
fn check_source(name: &str, source: &str) {
    crate::version::ensure();
    compile::compile(name, source)
        .map(|_| ())
        .map_err(|failure| Error::Syntax {
            script: name.to_string(),
            failure,
        })
        .or_raise()
}

/// Refuses an input_schema that is not a JSON Schema 2020-12.
#[pg_extern(name = "_check_input_schema")]
fn check_input_schema(schema: JsonArg) {
    crate::version::ensure();
    crate::engine::input_schema::check_schema(&schema.0)
        .map_err(|m| Error::Invalid(format!("input_schema is {m} (field \"input_schema\")")))
        .or_raise()
}

/// Refuses an input that does not fit `script`'s schema (22023, with the JSON pointer).
#[pg_extern(name = "_check_input")]
fn check_input(script: &str, schema: JsonArg, input: JsonArg) {
    crate::version::ensure();
    crate::engine::input_schema::check_input(&schema.0.to_string(), &input.0)
        .map_err(|r| Error::InvalidInput {
            script: script.to_string(),
            pointer: r.pointer,
            message: r.message,
        })
        .or_raise()
}

/// Validates resource_limits and fills in the defaults.
#[pg_extern(name = "_check_limits")]
fn check_limits(limits: Option<JsonArg>) -> JsonB {
    crate::version::ensure();
    let given = limits.map(|j| j.0).unwrap_or(serde_json::Value::Null);
    JsonB(limits::validate(&given).map_err(Error::Invalid).or_raise())
}

/// Makes every backend drop its cached scripts (and the routes and API keys
/// cached with them) once this transaction commits. A statement trigger of
/// jsrt.scripts and jsrt.api_keys; nobody may call it.
#[pg_trigger]
fn _scripts_changed<'a>(
    _trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgHeapTupleError> {
    crate::catalog::scripts::invalidate();
    Ok(None)
}
