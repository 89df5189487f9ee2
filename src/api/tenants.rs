use pgrx::prelude::*;

use crate::error::OrRaise;
use crate::tenancy;

/// The tenant row-level security compares with: the running script's, else
/// the session's; NULL (no rows) when neither is set.
#[pg_extern(stable, parallel_restricted)]
fn tenant_id() -> Option<pgrx::Uuid> {
    crate::version::ensure();
    tenancy::current().map(pgrx::Uuid::from_bytes)
}

/// Sets the session's tenant, or the transaction's when `local` (for
/// connection poolers), after checking that the current role may use it.
#[pg_extern]
fn set_tenant(name_or_id: &str, local: default!(bool, false)) {
    crate::version::ensure();
    tenancy::set_session_tenant(name_or_id, local).or_raise();
}
