//! Why a run failed, and where in the script. Pure: no Postgres here.

use serde::Serialize;

/// The way a run ended badly. Each maps to an execution status and a SQLSTATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// the script threw, or its promise rejected
    Thrown,
    /// max_execution_time_ms elapsed
    Timeout,
    /// max_memory_bytes reached
    Memory,
    /// the JS stack went past max_stack_bytes
    Stack,
    /// the output is larger than max_output_size_bytes
    Output,
    /// the return value cannot become JSON
    BadResult,
    /// the module has no default export function
    NoEntryPoint,
    /// pg_cancel_backend, statement_timeout or a shutdown
    Cancelled,
}

impl FailureKind {
    /// The value of script_executions.status for this failure.
    pub fn status(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::Cancelled => "cancelled",
            _ => "failed",
        }
    }
}

/// The error of a run that jsrt.cancel stopped once it had started.
pub const CANCELLED_BY_REQUEST: &str = "the run was cancelled (jsrt.cancel)";

/// A failed run: the JS error's name, message, place and stack.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub name: String,
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub stack: Option<String>,
}

impl Failure {
    pub fn new(kind: FailureKind, name: &str, message: impl Into<String>) -> Self {
        Failure {
            kind,
            name: name.into(),
            message: message.into(),
            line: None,
            column: None,
            stack: None,
        }
    }

    /// "TypeError: x is not a function at line 3:14"
    pub fn summary(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}: {} (line {l}:{c})", self.name, self.message),
            _ => format!("{}: {}", self.name, self.message),
        }
    }
}

/// Finds the first `module:line:column` frame of `module` in a QuickJS stack.
/// Frames look like `    at default (price:3:14)` or `    at price:3:14`.
pub fn locate(stack: &str, module: &str) -> Option<(u32, u32)> {
    let needle = format!("{module}:");
    for line in stack.lines() {
        let Some(start) = line.find(&needle) else {
            continue;
        };
        // the module name must start the frame's location, not end another name
        let before = line[..start].chars().last();
        if !matches!(before, None | Some(' ') | Some('(')) {
            continue;
        }
        let rest = &line[start + needle.len()..];
        let rest = rest.trim_end_matches(')');
        let mut parts = rest.split(':');
        let l = parts.next()?.parse().ok();
        let c = parts.next().and_then(|c| c.parse().ok());
        if let (Some(l), Some(c)) = (l, c) {
            return Some((l, c));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_frame_in_parentheses() {
        let s = "    at boom (price:3:14)\n    at default (price:7:3)\n";
        assert_eq!(locate(s, "price"), Some((3, 14)));
    }

    #[test]
    fn finds_bare_frame_and_skips_other_modules() {
        let s = "    at <anonymous> (other:1:1)\n    at price:12:5\n";
        assert_eq!(locate(s, "price"), Some((12, 5)));
    }

    #[test]
    fn does_not_match_a_longer_name() {
        assert_eq!(locate("    at f (myprice:3:4)", "price"), None);
    }

    #[test]
    fn summary_has_place() {
        let mut f = Failure::new(FailureKind::Thrown, "TypeError", "x is undefined");
        f.line = Some(2);
        f.column = Some(9);
        assert_eq!(f.summary(), "TypeError: x is undefined (line 2:9)");
        assert_eq!(f.kind.status(), "failed");
        assert_eq!(FailureKind::Timeout.status(), "timeout");
    }
}
