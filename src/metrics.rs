//! What `/metrics` says, in Prometheus's text format: the shapes of the
//! counters (kept in shared memory by `shmem/counters.rs`, so a scrape costs
//! the same however long the history is) and their rendering.

use std::fmt::Write as _;

pub const TRIGGERS: [&str; 7] = [
    "manual", "api", "event", "cron", "http", "function", "trigger",
];
pub const STATUSES: [&str; 4] = ["completed", "failed", "timeout", "cancelled"];
/// Upper bounds of the duration buckets, in seconds; one more bucket is +Inf.
pub const BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
pub const NBUCKETS: usize = BUCKETS.len() + 1;

pub fn trigger_index(t: &str) -> Option<usize> {
    TRIGGERS.iter().position(|x| *x == t)
}

pub fn status_index(s: &str) -> Option<usize> {
    STATUSES.iter().position(|x| *x == s)
}

/// The bucket a duration falls in (the last: +Inf).
pub fn bucket_index(seconds: f64) -> usize {
    BUCKETS
        .iter()
        .position(|le| seconds <= *le)
        .unwrap_or(BUCKETS.len())
}

/// The shared counters at one moment.
#[derive(Default)]
pub struct Snapshot {
    pub runs: [[u64; STATUSES.len()]; TRIGGERS.len()],
    /// per trigger, per bucket (not cumulative)
    pub buckets: [[u64; NBUCKETS]; TRIGGERS.len()],
    pub seconds_sum: [f64; TRIGGERS.len()],
    /// (status code, responses) for codes answered at least once
    pub responses: Vec<(u16, u64)>,
    /// (tenant, script, runs by status), when per-script series are on
    pub scripts: Vec<(String, String, [u64; STATUSES.len()])>,
    /// runs of scripts past the series cap
    pub other_scripts: [u64; STATUSES.len()],
}

/// What only the front worker knows, at the moment of the scrape.
pub struct Front {
    pub connections: usize,
    pub queued: usize,
    pub runners_idle: usize,
    pub runners_busy: usize,
    pub runners_starting: usize,
}

pub fn render(s: &Snapshot, f: &Front) -> String {
    let mut o = String::with_capacity(8 << 10);
    header(
        &mut o,
        "jsrt_runs_total",
        "counter",
        "Runs finished since the server started, by trigger and status.",
    );
    for (t, trigger) in TRIGGERS.iter().enumerate() {
        for (st, status) in STATUSES.iter().enumerate() {
            let _ = writeln!(
                o,
                "jsrt_runs_total{{trigger=\"{trigger}\",status=\"{status}\"}} {}",
                s.runs[t][st]
            );
        }
    }
    header(
        &mut o,
        "jsrt_run_duration_seconds",
        "histogram",
        "How long finished runs took, by trigger.",
    );
    for (t, trigger) in TRIGGERS.iter().enumerate() {
        let mut cumulative = 0;
        for (b, n) in s.buckets[t].iter().enumerate() {
            cumulative += n;
            let le = BUCKETS.get(b).map_or("+Inf".to_string(), |v| v.to_string());
            let _ = writeln!(o, "jsrt_run_duration_seconds_bucket{{trigger=\"{trigger}\",le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(
            o,
            "jsrt_run_duration_seconds_sum{{trigger=\"{trigger}\"}} {}",
            s.seconds_sum[t]
        );
        let _ = writeln!(
            o,
            "jsrt_run_duration_seconds_count{{trigger=\"{trigger}\"}} {cumulative}"
        );
    }
    if !s.scripts.is_empty() || s.other_scripts.iter().any(|n| *n > 0) {
        header(
            &mut o,
            "jsrt_script_runs_total",
            "counter",
            "Runs finished by tenant, script and status (capped; the rest under script=\"other\").",
        );
        for (tenant, script, runs) in &s.scripts {
            for (st, status) in STATUSES.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "jsrt_script_runs_total{{tenant=\"{}\",script=\"{}\",status=\"{status}\"}} {}",
                    label(tenant),
                    label(script),
                    runs[st]
                );
            }
        }
        for (st, status) in STATUSES.iter().enumerate() {
            let _ = writeln!(o, "jsrt_script_runs_total{{tenant=\"other\",script=\"other\",status=\"{status}\"}} {}", s.other_scripts[st]);
        }
    }
    header(
        &mut o,
        "jsrt_http_responses_total",
        "counter",
        "HTTP responses sent by the front worker, by status code.",
    );
    for (code, n) in &s.responses {
        let _ = writeln!(o, "jsrt_http_responses_total{{code=\"{code}\"}} {n}");
    }
    header(
        &mut o,
        "jsrt_http_connections",
        "gauge",
        "Open client connections.",
    );
    let _ = writeln!(o, "jsrt_http_connections {}", f.connections);
    header(
        &mut o,
        "jsrt_http_queue_depth",
        "gauge",
        "Requests waiting for a runner.",
    );
    let _ = writeln!(o, "jsrt_http_queue_depth {}", f.queued);
    header(
        &mut o,
        "jsrt_http_runners",
        "gauge",
        "HTTP runner workers, by state.",
    );
    for (state, n) in [
        ("idle", f.runners_idle),
        ("busy", f.runners_busy),
        ("starting", f.runners_starting),
    ] {
        let _ = writeln!(o, "jsrt_http_runners{{state=\"{state}\"}} {n}");
    }
    o
}

fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format needs it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_upper_bounds() {
        assert_eq!(bucket_index(0.0), 0);
        assert_eq!(bucket_index(0.001), 0);
        assert_eq!(bucket_index(0.0011), 1);
        assert_eq!(bucket_index(60.0), 13);
        assert_eq!(bucket_index(61.0), 14);
        assert_eq!(trigger_index("http"), Some(4));
        assert_eq!(status_index("timeout"), Some(2));
        assert_eq!(status_index("pending"), None);
    }

    #[test]
    fn renders_cumulative_histograms_and_escaped_labels() {
        let mut s = Snapshot::default();
        s.runs[4][0] = 3;
        s.buckets[4][0] = 1;
        s.buckets[4][2] = 2;
        s.seconds_sum[4] = 0.021;
        s.responses = vec![(200, 3), (503, 1)];
        s.scripts = vec![("acme".into(), "a\"b".into(), [1, 0, 0, 0])];
        let front = Front {
            connections: 2,
            queued: 1,
            runners_idle: 1,
            runners_busy: 1,
            runners_starting: 0,
        };
        let text = render(&s, &front);
        assert!(text.contains("jsrt_runs_total{trigger=\"http\",status=\"completed\"} 3\n"));
        assert!(
            text.contains("jsrt_run_duration_seconds_bucket{trigger=\"http\",le=\"0.001\"} 1\n")
        );
        assert!(
            text.contains("jsrt_run_duration_seconds_bucket{trigger=\"http\",le=\"0.005\"} 1\n")
        );
        assert!(text.contains("jsrt_run_duration_seconds_bucket{trigger=\"http\",le=\"0.01\"} 3\n"));
        assert!(text.contains("jsrt_run_duration_seconds_bucket{trigger=\"http\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("jsrt_run_duration_seconds_count{trigger=\"http\"} 3\n"));
        assert!(text.contains("script=\"a\\\"b\""));
        assert!(text.contains("jsrt_http_responses_total{code=\"503\"} 1\n"));
        assert!(text.contains("jsrt_http_runners{state=\"busy\"} 1\n"));
        // every sample line belongs to a declared family
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(text.contains(&format!("# TYPE {family} ")), "{line}");
        }
    }
}
