//! One error type for the extension. Each variant has its SQLSTATE and message;
//! the README lists them.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgSqlErrorCode as Code;

use crate::engine::failure::{Failure, FailureKind};

#[derive(Debug)]
pub enum Error {
    /// no jsrt.set_tenant() in this session
    NoTenant,
    /// the session's tenant does not exist (any more)
    UnknownTenant(String),
    /// no script of that name or id in the tenant
    UnknownScript(String),
    /// the script's status forbids running it
    NotRunnable { script: String, status: String },
    /// bad argument: the message names the field
    Invalid(String),
    /// a run's input does not fit its script's input_schema: where (a JSON pointer) and why
    InvalidInput {
        script: String,
        pointer: String,
        message: String,
    },
    /// the source does not compile
    Syntax { script: String, failure: Failure },
    /// a run failed
    Run { script: String, failure: Failure },
    /// the current role may not do this
    Forbidden(String),
    /// an error Postgres raised (a cancel, a statement timeout) that a run
    /// caught in its SQL and must pass on as it was
    Postgres { code: Code, message: String },
    /// the script is running max_concurrent_runs times already
    Busy { script: String, limit: u64 },
    /// an event run claimed just as its script was paused: it goes back to be held
    Held { script: String },
    /// a run started while its tenant had its cap of runs going on
    TenantBusy { tenant: String, limit: u64 },
    /// a script run started while another runs in this backend
    Nested,
    /// the tenant is suspended or moved (jsrt.set_tenant_state): its scripts do not run here
    TenantInactive { tenant: String, state: String },
    /// a run asked of a standby (a server in recovery), which runs no scripts
    Standby,
    /// the library is newer than the installed extension (before ALTER EXTENSION UPDATE)
    Outdated { installed: String },
    /// a bug or an environment problem
    Internal(String),
}

impl Error {
    pub fn code(&self) -> Code {
        match self {
            Error::NoTenant
            | Error::NotRunnable { .. }
            | Error::Held { .. }
            | Error::Nested
            | Error::TenantInactive { .. } => Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            Error::Outdated { .. } => Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            Error::UnknownTenant(_) | Error::UnknownScript(_) => Code::ERRCODE_UNDEFINED_OBJECT,
            Error::Invalid(_) | Error::InvalidInput { .. } => Code::ERRCODE_INVALID_PARAMETER_VALUE,
            Error::Syntax { .. } => Code::ERRCODE_SYNTAX_ERROR,
            Error::Internal(_) => Code::ERRCODE_INTERNAL_ERROR,
            Error::Standby => Code::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            Error::Forbidden(_) => Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            Error::Busy { .. } | Error::TenantBusy { .. } => {
                Code::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED
            }
            Error::Postgres { code, .. } => *code,
            Error::Run { failure, .. } => match failure.kind {
                FailureKind::Thrown => Code::ERRCODE_RAISE_EXCEPTION,
                FailureKind::Cancelled => Code::ERRCODE_QUERY_CANCELED,
                FailureKind::Timeout => Code::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                FailureKind::Memory => Code::ERRCODE_OUT_OF_MEMORY,
                FailureKind::Stack => Code::ERRCODE_STATEMENT_TOO_COMPLEX,
                FailureKind::Output => Code::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                FailureKind::BadResult => Code::ERRCODE_DATATYPE_MISMATCH,
                FailureKind::NoEntryPoint => Code::ERRCODE_UNDEFINED_FUNCTION,
            },
        }
    }

    pub fn message(&self) -> String {
        match self {
            Error::NoTenant => "no tenant is set for this session".into(),
            Error::UnknownTenant(t) => format!("tenant \"{t}\" does not exist"),
            Error::UnknownScript(s) => format!("script \"{s}\" does not exist"),
            Error::InvalidInput {
                script,
                pointer,
                message,
            } => format!(
                "the input does not fit script \"{script}\"'s input_schema at \"{pointer}\": {message}"
            ),
            Error::NotRunnable { script, status } => {
                format!("script \"{script}\" is {status} and cannot run")
            }
            Error::Invalid(m) | Error::Forbidden(m) | Error::Postgres { message: m, .. } => m.clone(),
            Error::Syntax { script, failure } => format!(
                "script \"{script}\" does not compile: {}",
                failure.summary()
            ),
            Error::Run { script, failure } => {
                format!("script \"{script}\" failed: {}", failure.summary())
            }
            Error::Busy { script, limit } => format!(
                "script \"{script}\" is already running {limit} times, its limit (resource_limits.max_concurrent_runs)"
            ),
            Error::Held { script } => {
                format!("script \"{script}\" is paused: its event run is held until it is active")
            }
            Error::TenantBusy { tenant, limit } => format!(
                "tenant \"{tenant}\" is already running {limit} runs, its limit (jsrt.max_concurrent_runs_per_tenant, or jsrt.set_tenant_max_concurrent_runs)"
            ),
            Error::Nested => {
                "a script cannot run another script synchronously in the same backend".into()
            }
            Error::TenantInactive { tenant, state } if state == "moved" => format!(
                "tenant \"{tenant}\" has moved to another cluster: its scripts run there"
            ),
            Error::TenantInactive { tenant, state } => {
                format!("tenant \"{tenant}\" is {state}: its scripts do not run until it is active")
            }
            Error::Outdated { installed } => format!(
                "jsruntime library is {} but the installed extension is {installed}: run ALTER EXTENSION jsruntime UPDATE",
                crate::version::LIBRARY
            ),
            Error::Internal(m) => format!("jsruntime internal error: {m}"),
            Error::Standby => {
                "scripts do not run on a standby: this server is in recovery (read-only)".into()
            }
        }
    }

    fn hint(&self) -> Option<&'static str> {
        match self {
            Error::NoTenant => Some("Call jsrt.set_tenant(name) first."),
            Error::NotRunnable { .. } => {
                Some("Only draft and active scripts run; see jsrt.set_status().")
            }
            Error::TenantInactive { .. } => Some(
                "A tenant is suspended or moved by jsrt.set_tenant_state; see docs/scale-out.md.",
            ),
            Error::Standby => {
                Some("Run scripts on the primary; a standby runs them once it is promoted.")
            }
            Error::Outdated { .. } => Some(
                "The server runs a newer jsruntime than this database's catalog: ALTER EXTENSION jsruntime UPDATE brings the catalog to it (README \"Upgrading\").",
            ),
            _ => None,
        }
    }

    /// Raises this error as a Postgres ERROR. Does not return.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.code(), self.message(), "jsruntime");
        if let Some(h) = self.hint() {
            report = report.set_hint(h);
        }
        if let Error::InvalidInput { pointer, .. } = &self {
            report = report.set_detail(format!("field \"input\", pointer \"{pointer}\""));
        }
        if let Error::Run { failure, .. } | Error::Syntax { failure, .. } = &self {
            if let Some(stack) = failure.stack.as_deref().filter(|s| !s.trim().is_empty()) {
                report = report.set_detail(format!("JS stack:\n{}", stack.trim_end()));
            }
        }
        report.report(pgrx::PgLogLevel::ERROR);
        unreachable!("an ERROR report does not return")
    }
}

/// Unwraps or raises: for the #[pg_extern] boundary.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, Error> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| e.raise())
    }
}
