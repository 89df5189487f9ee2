//! Per-script resource limits: validation of `resource_limits` and the caps
//! that the `jsrt.*` settings put on them. Pure: no Postgres here.

use serde_json::{Map, Value};

/// One known key of `resource_limits`: its default and allowed range.
struct Key {
    name: &'static str,
    default: i64,
    min: i64,
    max: i64,
}

const KEYS: &[Key] = &[
    Key {
        name: "max_execution_time_ms",
        default: 30_000,
        min: 1,
        max: 3_600_000,
    },
    Key {
        name: "max_memory_bytes",
        default: 64 << 20,
        min: 1 << 20,
        max: 1 << 30,
    },
    Key {
        name: "max_concurrent_runs",
        default: 5,
        min: 1,
        max: 10_000,
    },
    Key {
        name: "max_api_calls",
        default: 100,
        min: 0,
        max: 100_000_000,
    },
    Key {
        name: "max_api_calls_per_minute",
        default: 60,
        min: 0,
        max: 100_000_000,
    },
    Key {
        name: "max_output_size_bytes",
        default: 1 << 20,
        min: 2,
        max: 64 << 20,
    },
    Key {
        name: "max_stack_bytes",
        default: 256 << 10,
        min: 64 << 10,
        max: 8 << 20,
    },
    Key {
        name: "max_log_bytes",
        default: 64 << 10,
        min: 0,
        max: 16 << 20,
    },
];

/// Known keys that have no default: left out, there is no such limit.
const OPTIONAL: &[Key] = &[Key {
    name: "http_rate_limit_per_minute",
    default: 0,
    min: 1,
    max: 100_000_000,
}];

/// Checks a `resource_limits` object and fills in the defaults.
/// The error names the offending field.
pub fn validate(value: &Value) -> Result<Value, String> {
    let given = match value {
        Value::Object(map) => map,
        Value::Null => &Map::new(),
        other => {
            return Err(format!(
                "resource_limits must be a JSON object, got {}",
                kind(other)
            ))
        }
    };
    for key in given.keys() {
        if !KEYS.iter().chain(OPTIONAL).any(|k| k.name == key) {
            let known: Vec<_> = KEYS.iter().chain(OPTIONAL).map(|k| k.name).collect();
            return Err(format!(
                "unknown key \"resource_limits.{key}\"; known keys: {}",
                known.join(", ")
            ));
        }
    }
    let mut out = Map::new();
    for k in KEYS.iter().chain(OPTIONAL) {
        let optional = OPTIONAL.iter().any(|o| o.name == k.name);
        let n = match given.get(k.name) {
            None | Some(Value::Null) if optional => continue,
            None | Some(Value::Null) => k.default,
            Some(v) => v
                .as_i64()
                .filter(|n| Some(*n as f64) == v.as_f64())
                .ok_or_else(|| {
                    format!(
                        "\"resource_limits.{}\" must be an integer, got {}",
                        k.name, v
                    )
                })?,
        };
        if n < k.min || n > k.max {
            return Err(format!(
                "\"resource_limits.{}\" is {n}; it must be between {} and {}",
                k.name, k.min, k.max
            ));
        }
        out.insert(k.name.to_string(), Value::from(n));
    }
    Ok(Value::Object(out))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The limits one run obeys: the script's own, capped by the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub time_ms: u64,
    pub memory_bytes: usize,
    pub output_bytes: usize,
    pub stack_bytes: usize,
    pub log_bytes: usize,
    /// ctx calls (ctx.db, and later ctx.http, ctx.cache) in one run
    pub api_calls: u64,
    /// ctx calls of all runs of the script in one clock minute
    pub api_calls_per_minute: u64,
    /// runs of the script at once, in all backends
    pub concurrent_runs: u64,
    /// HTTP requests to an endpoint script in one clock minute, in all backends; None: no limit
    pub requests_per_minute: Option<u64>,
}

impl Limits {
    /// No cap at all: for reading a script's own limits.
    pub const UNCAPPED: Limits = Limits {
        time_ms: u64::MAX,
        memory_bytes: usize::MAX,
        output_bytes: usize::MAX,
        stack_bytes: usize::MAX,
        log_bytes: usize::MAX,
        api_calls: u64::MAX,
        api_calls_per_minute: u64::MAX,
        concurrent_runs: u64::MAX,
        requests_per_minute: None,
    };

    /// These limits, each lowered to its cap.
    pub fn capped(&self, caps: &Limits) -> Limits {
        Limits {
            time_ms: self.time_ms.min(caps.time_ms),
            memory_bytes: self.memory_bytes.min(caps.memory_bytes),
            output_bytes: self.output_bytes.min(caps.output_bytes),
            stack_bytes: self.stack_bytes.min(caps.stack_bytes),
            log_bytes: self.log_bytes.min(caps.log_bytes),
            api_calls: self.api_calls.min(caps.api_calls),
            api_calls_per_minute: self.api_calls_per_minute.min(caps.api_calls_per_minute),
            concurrent_runs: self.concurrent_runs.min(caps.concurrent_runs),
            requests_per_minute: self.requests_per_minute,
        }
    }

    /// `stored` is a validated `resource_limits`; `caps` are the settings' maxima.
    pub fn effective(stored: &Value, caps: &Limits) -> Limits {
        let get = |name: &str| -> u64 {
            let default = KEYS
                .iter()
                .find(|k| k.name == name)
                .map_or(0, |k| k.default);
            stored
                .get(name)
                .and_then(Value::as_i64)
                .unwrap_or(default)
                .max(0) as u64
        };
        Limits {
            time_ms: get("max_execution_time_ms").min(caps.time_ms),
            memory_bytes: (get("max_memory_bytes") as usize).min(caps.memory_bytes),
            output_bytes: (get("max_output_size_bytes") as usize).min(caps.output_bytes),
            stack_bytes: (get("max_stack_bytes") as usize).min(caps.stack_bytes),
            log_bytes: (get("max_log_bytes") as usize).min(caps.log_bytes),
            api_calls: get("max_api_calls").min(caps.api_calls),
            api_calls_per_minute: get("max_api_calls_per_minute").min(caps.api_calls_per_minute),
            concurrent_runs: get("max_concurrent_runs").min(caps.concurrent_runs),
            requests_per_minute: stored
                .get("http_rate_limit_per_minute")
                .and_then(Value::as_u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CAPS: Limits = Limits {
        time_ms: 10_000,
        memory_bytes: 128 << 20,
        output_bytes: 1 << 20,
        stack_bytes: 1 << 20,
        log_bytes: 1 << 20,
        api_calls: 1000,
        api_calls_per_minute: u64::MAX,
        concurrent_runs: u64::MAX,
        requests_per_minute: None,
    };

    #[test]
    fn empty_gets_seed_defaults() {
        let v = validate(&json!({})).unwrap();
        assert_eq!(v["max_execution_time_ms"], 30_000);
        assert_eq!(v["max_memory_bytes"], 67_108_864);
        assert_eq!(v["max_concurrent_runs"], 5);
        assert_eq!(v["max_api_calls_per_minute"], 60);
        assert_eq!(v["max_api_calls"], 100);
        assert_eq!(v["max_output_size_bytes"], 1_048_576);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = validate(&json!({"max_cpu": 1})).unwrap_err();
        assert!(e.contains("resource_limits.max_cpu"), "{e}");
    }

    #[test]
    fn out_of_range_names_key_and_range() {
        let e = validate(&json!({"max_execution_time_ms": 0})).unwrap_err();
        assert!(
            e.contains("max_execution_time_ms") && e.contains("between 1 and"),
            "{e}"
        );
    }

    #[test]
    fn non_integer_is_refused() {
        for bad in [json!("10"), json!(1.5), json!(true)] {
            let e = validate(&json!({ "max_memory_bytes": bad })).unwrap_err();
            assert!(e.contains("must be an integer"), "{e}");
        }
        assert!(validate(&json!([1])).unwrap_err().contains("an array"));
    }

    #[test]
    fn caps_win_over_script_limits() {
        let v = validate(&json!({"max_execution_time_ms": 60_000, "max_memory_bytes": 1 << 20}))
            .unwrap();
        let l = Limits::effective(&v, &CAPS);
        assert_eq!(l.time_ms, 10_000);
        assert_eq!(l.memory_bytes, 1 << 20);
    }
}
