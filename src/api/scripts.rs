use pgrx::prelude::*;
use pgrx::JsonB;

use crate::engine::{compile, limits};
use crate::error::{Error, OrRaise};

/// Refuses source that does not compile, naming line and column.
#[pg_extern(name = "_check_source")]
fn check_source(name: &str, source: &str) {
    compile::compile(name, source)
        .map(|_| ())
        .map_err(|failure| Error::Syntax {
            script: name.to_string(),
            failure,
        })
        .or_raise()
}

/// Validates resource_limits and fills in the defaults.
#[pg_extern(name = "_check_limits")]
fn check_limits(limits: Option<JsonB>) -> JsonB {
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
