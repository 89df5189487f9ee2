//! jsrt.set_secret and jsrt.delete_secret: a tenant's secrets, written here
//! and read only by its scripts (ctx.secrets.get).

use pgrx::prelude::*;

use crate::engine::host::js::no_row_is_none;
use crate::error::{Error, OrRaise};
use crate::tenancy;

/// Longest secret value, in bytes.
const MAX_VALUE_BYTES: usize = 65536;

/// Creates or replaces the secret `name` of the session's tenant.
#[pg_extern]
fn set_secret(name: &str, value: &str) {
    crate::version::ensure();
    check_name("jsrt.set_secret", name).or_raise();
    if value.is_empty() {
        Error::Invalid("jsrt.set_secret: \"value\" is empty".into()).raise();
    }
    if value.len() > MAX_VALUE_BYTES {
        Error::Invalid(format!(
            "jsrt.set_secret: \"value\" is {} bytes, over the limit of {MAX_VALUE_BYTES}",
            value.len()
        ))
        .raise();
    }
    let tenant = tenancy::current_id().or_raise();
    let by = tenancy::current_role_name();
    // Written as the owner: roles hold no privilege on the value column.
    let written = tenancy::as_owner(|| {
        no_row_is_none(Spi::get_one_with_args::<bool>(
            "INSERT INTO jsrt.secrets AS s (tenant_id, name, value, updated_by)
             SELECT t.id, $2, $3, $4 FROM jsrt.tenants t WHERE t.id = $1::uuid
             ON CONFLICT (tenant_id, name) DO UPDATE
                SET value = excluded.value, updated_at = now(), updated_by = excluded.updated_by
             RETURNING true",
            &[
                tenant.as_str().into(),
                name.into(),
                value.into(),
                by.as_str().into(),
            ],
        ))
    });
    match written {
        Ok(Some(true)) => {}
        Ok(_) => Error::UnknownTenant(tenant).raise(),
        Err(e) => Error::Internal(format!("writing jsrt.secrets: {e}")).raise(),
    }
}

/// Deletes the secret `name` of the session's tenant; false when there was none.
#[pg_extern]
fn delete_secret(name: &str) -> bool {
    crate::version::ensure();
    check_name("jsrt.delete_secret", name).or_raise();
    let tenant = tenancy::current_id().or_raise();
    tenancy::as_owner(|| {
        Spi::get_one_with_args::<bool>(
            "WITH gone AS (DELETE FROM jsrt.secrets WHERE tenant_id = $1::uuid AND name = $2 RETURNING 1)
             SELECT count(*) > 0 FROM gone",
            &[tenant.as_str().into(), name.into()],
        )
    })
    .map(|b| b.unwrap_or(false))
    .map_err(|e| Error::Internal(format!("deleting from jsrt.secrets: {e}")))
    .or_raise()
}

/// Names as the table's CHECK has them, with a message that says so.
fn check_name(what: &str, name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if first_ok && rest_ok && name.len() <= 128 {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{what}: \"name\" must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or '_' (got \"{name}\")"
        )))
    }
}
