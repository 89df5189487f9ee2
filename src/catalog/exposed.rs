//! The tables scripts may reach through ctx.db's table helpers (jsrt.exposed_tables).

use pgrx::spi::Spi;

/// An exposed table: its quoted, schema-qualified name and its tenant column.
pub struct Exposed {
    pub table: String,
    pub tenant_column: String,
}

/// The exposed table called `name` ("orders" or "sales.orders"), read as the
/// extension's owner: the script role cannot read the registry.
pub fn find(name: &str) -> Result<Exposed, String> {
    let (schema, table) = match name.split_once('.') {
        Some((s, t)) => (Some(s), t),
        None => (None, name),
    };
    let found = crate::tenancy::as_owner(|| {
        Spi::connect(|client| {
            let rows = client.select(
                "SELECT format('%I.%I', n.nspname, c.relname), e.tenant_column::text
                   FROM jsrt.exposed_tables e
                   JOIN pg_class c ON c.oid = e.tbl
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relname = $2 AND ($1::text IS NULL OR n.nspname = $1)",
                Some(2),
                &[schema.into(), table.into()],
            )?;
            let mut out = Vec::new();
            for r in rows {
                out.push(Exposed {
                    table: r.get::<String>(1)?.unwrap_or_default(),
                    tenant_column: r.get::<String>(2)?.unwrap_or_default(),
                });
            }
            Ok::<_, pgrx::spi::SpiError>(out)
        })
    })
    .map_err(|e| format!("reading jsrt.exposed_tables: {e}"))?;
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (Some(e), None) => Ok(e),
        (None, _) => Err(format!(
            "table \"{name}\" is not exposed to scripts; a DBA exposes it with jsrt.expose_table"
        )),
        (Some(_), Some(_)) => Err(format!(
            "table name \"{name}\" is ambiguous: exposed in more than one schema; write schema.table"
        )),
    }
}
