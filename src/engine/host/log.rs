//! Captures `ctx.log.*` and `console.*` lines of one run, up to a byte budget.
//! Pure: no Postgres here.

use serde::Serialize;

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Line {
    pub level: &'static str,
    pub message: String,
    /// milliseconds since the run started
    pub at_ms: u64,
}

#[derive(Default, Debug)]
pub struct LogBuffer {
    lines: Vec<Line>,
    bytes: usize,
    budget: usize,
    dropped: u64,
}

impl LogBuffer {
    pub fn reset(&mut self, budget: usize) {
        self.lines.clear();
        self.bytes = 0;
        self.budget = budget;
        self.dropped = 0;
    }

    /// Keeps the line if it fits in what is left of the budget; counts it as dropped otherwise.
    /// A NUL becomes U+FFFD: the run's record (jsonb) cannot hold one, and
    /// a line that failed the whole run at its end would hide why it ran.
    pub fn push(&mut self, level: &'static str, mut message: String, at_ms: u64) {
        if message.contains('\0') {
            message = message.replace('\0', "\u{FFFD}");
        }
        let cost = message.len() + 32;
        if self.bytes + cost > self.budget {
            self.dropped += 1;
            return;
        }
        self.bytes += cost;
        self.lines.push(Line {
            level,
            message,
            at_ms,
        });
    }

    /// The lines kept, plus one line that says how many were dropped.
    pub fn take(&mut self) -> Vec<Line> {
        let mut lines = std::mem::take(&mut self.lines);
        if self.dropped > 0 {
            lines.push(Line {
                level: "warn",
                message: format!(
                    "{} log lines dropped: the run's logs reached max_log_bytes ({} bytes)",
                    self.dropped, self.budget
                ),
                at_ms: lines.last().map_or(0, |l| l.at_ms),
            });
        }
        self.bytes = 0;
        self.dropped = 0;
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_in_a_line_is_replaced() {
        let mut b = LogBuffer::default();
        b.reset(100);
        b.push("info", "a\0b".into(), 0);
        assert_eq!(b.take()[0].message, "a\u{FFFD}b");
    }

    #[test]
    fn keeps_lines_within_budget_and_counts_the_rest() {
        let mut b = LogBuffer::default();
        b.reset(100);
        for i in 0..10 {
            b.push("info", format!("line {i}"), i);
        }
        let lines = b.take();
        assert!(lines.len() < 10);
        let last = lines.last().unwrap();
        assert_eq!(last.level, "warn");
        assert!(last
            .message
            .starts_with(&format!("{} log lines dropped", 10 - (lines.len() - 1))));
    }

    #[test]
    fn zero_budget_keeps_nothing() {
        let mut b = LogBuffer::default();
        b.reset(0);
        b.push("info", "x".into(), 0);
        let lines = b.take();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].message.starts_with("1 log lines dropped"));
    }
}
