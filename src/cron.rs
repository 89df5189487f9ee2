//! Cron expressions (croner) in IANA time zones: checking them, naming the
//! bad field, and the next time a schedule is due. Pure: no Postgres here.
//!
//! Times are wall-clock times in the schedule's zone. A time that a
//! daylight-saving jump skips runs once, at the first valid instant after
//! the gap; a time that a jump repeats runs once, at its first instant.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

const FIELDS_5: [&str; 5] = ["minute", "hour", "day of month", "month", "day of week"];
const FIELDS_6: [&str; 6] = [
    "second",
    "minute",
    "hour",
    "day of month",
    "month",
    "day of week",
];

/// A checked expression.
pub struct Schedule {
    cron: Cron,
}

/// Parses `expr`: 5 fields, or 6 with seconds first when `seconds` allows.
/// The error names the field that is wrong.
pub fn parse(expr: &str, seconds: bool) -> Result<Schedule, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let names: &[&str] = match fields.len() {
        5 => &FIELDS_5,
        6 if seconds => &FIELDS_6,
        6 => {
            return Err(format!(
                "\"{expr}\" has a seconds field, and seconds are turned off (jsrt.cron_seconds)"
            ))
        }
        n => {
            return Err(format!(
                "\"{expr}\" has {n} fields; a cron expression has 5, or 6 with seconds first"
            ))
        }
    };
    let whole = Cron::new(&fields.join(" "))
        .with_seconds_optional()
        .with_dom_and_dow()
        .parse();
    match whole {
        Ok(cron) => Ok(Schedule { cron }),
        Err(e) => {
            // Find the field: the expression with only that field kept still fails.
            for (i, name) in names.iter().enumerate() {
                let probe: Vec<&str> = (0..names.len())
                    .map(|j| if j == i { fields[j] } else { "*" })
                    .collect();
                if Cron::new(&probe.join(" "))
                    .with_seconds_optional()
                    .parse()
                    .is_err()
                {
                    return Err(format!(
                        "invalid {name} field \"{}\" in \"{expr}\"",
                        fields[i]
                    ));
                }
            }
            Err(format!("invalid cron expression \"{expr}\": {e}"))
        }
    }
}

/// The IANA zone called `name`.
pub fn zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("unknown time zone \"{name}\""))
}

impl Schedule {
    /// The first time after `after` the schedule is due, in `tz` wall-clock time.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = tz.from_utc_datetime(&after.naive_utc());
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
            // A repeated hour maps a wall-clock time to its first instant,
            // which can lie before `after`: skip it, as it ran already.
            .and_then(|t| {
                if t > after {
                    Some(t)
                } else {
                    self.next_after(tz, after + chrono::Duration::hours(1))
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The next `n` due times after `from`.
    fn runs(expr: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
        let s = parse(expr, true).unwrap();
        let tz = zone(tz).unwrap();
        let mut t = utc(from);
        (0..n)
            .map(|_| {
                t = s.next_after(tz, t).unwrap();
                t.to_rfc3339()
            })
            .collect()
    }

    #[test]
    fn five_and_six_fields() {
        assert_eq!(
            runs("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z", 2),
            ["2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00"]
        );
        assert_eq!(
            runs("*/20 * * * * *", "UTC", "2026-01-01T00:00:00Z", 2),
            ["2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00"]
        );
    }

    #[test]
    fn errors_name_the_field() {
        assert!(parse("61 * * * *", true)
            .err()
            .unwrap()
            .contains("minute field \"61\""));
        assert!(parse("0 25 * * *", true)
            .err()
            .unwrap()
            .contains("hour field \"25\""));
        assert!(parse("0 0 * 13 *", true)
            .err()
            .unwrap()
            .contains("month field \"13\""));
        assert!(parse("0 0 * * funday", true)
            .err()
            .unwrap()
            .contains("day of week field"));
        assert!(parse("99 0 0 * * *", true)
            .err()
            .unwrap()
            .contains("second field \"99\""));
        assert!(parse("* * *", true).err().unwrap().contains("3 fields"));
        assert!(parse("0 0 0 * * *", false)
            .err()
            .unwrap()
            .contains("seconds are turned off"));
        assert!(zone("Mars/Olympus").is_err());
    }

    #[test]
    fn time_zones_shift_the_instant() {
        // 09:00 in Berlin is 08:00 UTC in winter, 07:00 UTC in summer.
        assert_eq!(
            runs("0 9 * * *", "Europe/Berlin", "2026-01-10T12:00:00Z", 1),
            ["2026-01-11T08:00:00+00:00"]
        );
        assert_eq!(
            runs("0 9 * * *", "Europe/Berlin", "2026-07-10T12:00:00Z", 1),
            ["2026-07-11T07:00:00+00:00"]
        );
    }

    #[test]
    fn skipped_hour_runs_once() {
        // New York: 2026-03-08 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
        assert_eq!(
            runs("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2),
            ["2026-03-08T07:00:00+00:00", "2026-03-09T06:30:00+00:00"]
        );
        // Berlin: 2026-03-29 02:00 CET jumps to 03:00 CEST.
        assert_eq!(
            runs("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
            ["2026-03-29T01:00:00+00:00", "2026-03-30T00:30:00+00:00"]
        );
    }

    #[test]
    fn repeated_hour_runs_once() {
        // New York: 2026-11-01 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        assert_eq!(
            runs("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            ["2026-11-01T05:30:00+00:00", "2026-11-02T06:30:00+00:00"]
        );
        // Berlin: 2026-10-25 03:00 CEST falls back to 02:00 CET.
        assert_eq!(
            runs("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"]
        );
        // Hourly through the repeated hour: each wall-clock hour once.
        let hourly = runs("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z", 3);
        assert_eq!(
            hourly,
            [
                "2026-11-01T05:00:00+00:00",
                "2026-11-01T07:00:00+00:00",
                "2026-11-01T08:00:00+00:00"
            ]
        );
    }

    #[test]
    fn no_drift_over_an_hour_of_seconds() {
        let s = parse("* * * * * *", true).unwrap();
        let mut t = utc("2026-01-01T00:00:00Z");
        let mut n = 0;
        while t < utc("2026-01-01T01:00:00Z") {
            t = s.next_after(Tz::UTC, t).unwrap();
            n += 1;
        }
        assert_eq!(n, 3600);
    }
}
