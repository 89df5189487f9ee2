//! The library's version against the catalog's (`pg_extension.extversion`).
//! A package upgrade replaces the library first; until ALTER EXTENSION
//! jsruntime UPDATE runs, the tables and SQL functions are the old version's.
//! Meanwhile the SQL functions written in Rust refuse (`check`, 55000) and
//! the background workers wait (`workers::schema_ready`), rather than run
//! this version's SQL on the old version's tables.

use std::sync::atomic::{AtomicBool, Ordering};

use pgrx::prelude::*;

use crate::catalog::lookup;
use crate::error::{Error, OrRaise};

/// This library's version, which its SQL scripts install as `extversion`.
pub const LIBRARY: &str = env!("CARGO_PKG_VERSION");

/// Once this database's extension was seen at the library's version, it stays
/// there for the life of the backend: the check costs one load from then on.
static MATCHED: AtomicBool = AtomicBool::new(false);

/// The extension in this backend's database.
#[derive(Debug, PartialEq)]
pub enum Catalog {
    /// installed at the library's version
    Current,
    /// installed at another version: ALTER EXTENSION jsruntime UPDATE has not run
    Other(String),
    /// not installed
    Missing,
}

/// Whether the catalog was seen at the library's version already (no SQL).
pub fn matched() -> bool {
    MATCHED.load(Ordering::Relaxed)
}

/// Reads the installed version (in a transaction).
pub fn catalog() -> Catalog {
    if MATCHED.load(Ordering::Relaxed) {
        return Catalog::Current;
    }
    // Read in place (no query to plan in every new backend), with the catalog
    // snapshot: the check runs on standbys too, in every jsrt function and so
    // in row-level security's jsrt.tenant_id().
    let pg_extension = lookup::Table::open(pg_sys::ExtensionRelationId);
    let version = pg_extension
        .column("extname")
        .zip(pg_extension.column("extversion"))
        .and_then(|(name, version)| {
            pg_extension
                .find(
                    pg_sys::Oid::from(pg_sys::ExtensionNameIndexId),
                    &[(name, lookup::Key::Name(c"jsruntime"))],
                    None,
                    |r| r.text(version).flatten(),
                )
                .flatten()
        });
    drop(pg_extension);
    let found = match version {
        Some(v) if v == LIBRARY => Catalog::Current,
        Some(v) => Catalog::Other(v),
        None => Catalog::Missing,
    };
    // SAFETY: a plain read of a backend global that CREATE/ALTER EXTENSION set.
    let in_script = unsafe { pg_sys::creating_extension };
    // (inside an extension script the new version may still roll back)
    if found == Catalog::Current && !in_script {
        MATCHED.store(true, Ordering::Relaxed);
    }
    found
}

/// Ok when the catalog is this library's version; the error says what to run.
pub fn check() -> Result<(), Error> {
    if MATCHED.load(Ordering::Relaxed) {
        return Ok(());
    }
    // SAFETY: plain reads of backend globals that CREATE/ALTER EXTENSION and parallel query set.
    if unsafe { pg_sys::creating_extension || pg_sys::ParallelWorkerNumber >= 0 } {
        // An extension script's own calls: the script is the new version's.
        // A parallel worker's: its leader checked.
        return Ok(());
    }
    match catalog() {
        Catalog::Other(installed) => Err(Error::Outdated { installed }),
        Catalog::Current | Catalog::Missing => Ok(()),
    }
}

/// `check`, raised as an ERROR: first in every #[pg_extern] function.
pub fn ensure() {
    check().or_raise()
}
