//! Cron expressions in IANA time zones: checking them (the error names the
//! field, what is wrong and where), and the next time a schedule is due.
//! Pure: no Postgres here.
//!
//! Syntax (Vixie cron / cronie, as pg_cron): 5 fields `minute hour
//! day-of-month month day-of-week`, or 6 with seconds first. Each field is a
//! comma list of `*`, `N`, `N-M`, each optionally `/STEP`; `N/STEP` means
//! `N-MAX/STEP`. Months and weekdays take English names (`jan`, `mon`), any
//! case; Sunday is 0 or 7. Ranges do not wrap (`fri-mon` is refused). The
//! macros `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily`
//! (`@midnight`) and `@hourly` stand for their 5-field forms. Refused, each
//! with its own message: `@reboot` (a schedule runs on a clock, there is no
//! boot), and Quartz's `L`, `W`, `#` and `?`.
//!
//! Days: when both day fields are restricted, a day is due when EITHER
//! matches; when one of them starts with `*` (`*` or `*/2`), both must match,
//! which makes the starred one count only through its own values (Vixie's
//! DOM_STAR / DOW_STAR rule, which cronie and pg_cron share).
//!
//! Time zones: the fields are read as wall-clock times in the schedule's zone,
//! and every matching wall-clock time runs exactly once, none is lost:
//! - a time a fall-back repeats (01:30 on the night New York goes from EDT to
//!   EST) runs at its first occurrence, in the earlier offset (01:30 EDT); the
//!   second pass through the repeated times runs nothing, and the next run
//!   after it is the first matching time past the repeated stretch;
//! - a time a spring-forward skips (02:30 on the night New York goes from
//!   EST to EDT) runs at the instant the clock jumps (03:00 EDT), once, even
//!   when several skipped times match, and together with a run due at that
//!   instant itself.
//!
//! This is cronie's treatment of jobs at fixed times (run skipped times at
//! the jump, do not repeat repeated ones), applied to every job: cronie runs
//! jobs with `*` in the minute or hour field by the clock as it reads, so
//! twice in a repeated hour and never in a skipped one; here they too run
//! each wall-clock time once.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike,
    Utc,
};
use chrono_tz::Tz;

/// A checked expression: the allowed values of each field as bits.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    seconds: u64,
    minutes: u64,
    hours: u32,
    /// bit d for day d, 1..=31
    days: u32,
    /// bit m for month m, 1..=12
    months: u16,
    /// bit d for weekday d, 0 = Sunday ..= 6
    weekdays: u8,
    /// the day-of-month field starts with `*`
    days_star: bool,
    /// the day-of-week field starts with `*`
    weekdays_star: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const WEEKDAY: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The most days month `m` can have (February: 29, in leap years).
fn month_days(m: u32) -> u32 {
    match m {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `expr`: a macro, 5 fields, or 6 with seconds first when `seconds`
/// allows. The error names the field, what is wrong and at which character
/// (1-based) of `expr`.
pub fn parse(expr: &str, seconds: bool) -> Result<Schedule, String> {
    let trimmed = expr.trim();
    if let Some(name) = trimmed.strip_prefix('@') {
        let five = match name.to_ascii_lowercase().as_str() {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            "reboot" => {
                return Err(format!(
                    "\"{expr}\": @reboot is not supported: a scheduled script runs on a clock \
                     (an event script subscribed to an event the application emits at start can stand in)"
                ))
            }
            _ => {
                return Err(format!(
                    "\"{expr}\" is not a known macro; the macros are @yearly, @annually, @monthly, \
                     @weekly, @daily, @midnight and @hourly"
                ))
            }
        };
        return parse(five, false);
    }
    // Each field with the character (1-based) it starts at.
    let mut fields: Vec<(usize, &str)> = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in expr.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                fields.push((expr[..s].chars().count() + 1, &expr[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        fields.push((expr[..s].chars().count() + 1, &expr[s..]));
    }
    let specs: &[&Field] = match fields.len() {
        5 => &[&MINUTE, &HOUR, &DAY, &MONTH, &WEEKDAY],
        6 if seconds => &[&SECOND, &MINUTE, &HOUR, &DAY, &MONTH, &WEEKDAY],
        6 => {
            return Err(format!(
                "\"{expr}\" has a seconds field, and seconds are turned off (jsrt.cron_seconds)"
            ))
        }
        n => {
            return Err(format!(
                "\"{expr}\" has {n} fields; a cron expression has 5, or 6 with seconds first, \
                 or is a macro such as @daily"
            ))
        }
    };
    let mut bits = [0u64; 6];
    let mut star = [false; 6];
    // Without seconds, at second 0.
    let offset = 6 - specs.len();
    if offset == 1 {
        bits[0] = 1;
    }
    for (k, (spec, (at, text))) in specs.iter().zip(&fields).enumerate() {
        bits[k + offset] = parse_field(spec, text).map_err(|(pos, what)| {
            format!(
                "invalid {} field \"{text}\" in \"{expr}\" at character {}: {what}",
                spec.name,
                at + pos
            )
        })?;
        star[k + offset] = text.starts_with('*');
    }
    // Sunday is 0 or 7.
    let mut weekdays = bits[5];
    if weekdays & (1 << 7) != 0 {
        weekdays = (weekdays | 1) & 0x7f;
    }
    let schedule = Schedule {
        seconds: bits[0],
        minutes: bits[1],
        hours: bits[2] as u32,
        days: bits[3] as u32,
        months: bits[4] as u16,
        weekdays: weekdays as u8,
        days_star: star[3],
        weekdays_star: star[5],
    };
    schedule.check_fires(expr, fields[fields.len() - 3].1, fields[fields.len() - 2].1)?;
    Ok(schedule)
}

/// One field's allowed values as bits, or (0-based character within the
/// field, what is wrong).
fn parse_field(spec: &Field, text: &str) -> Result<u64, (usize, String)> {
    let mut bits = 0u64;
    let mut pos = 0usize;
    for item in text.split(',') {
        bits |= parse_item(spec, item).map_err(|(p, w)| (pos + p, w))?;
        pos += item.chars().count() + 1;
    }
    Ok(bits)
}

fn parse_item(spec: &Field, item: &str) -> Result<u64, (usize, String)> {
    if item.is_empty() {
        return Err((
            0,
            "an empty list item (two commas, or a comma at an end)".into(),
        ));
    }
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some((r.chars().count() + 1, s))),
        None => (item, None),
    };
    let (lo, hi, single) = if range == "*" {
        (spec.min, spec.max, false)
    } else {
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (range, None),
        };
        let lo = value(spec, a)?;
        match b {
            Some(b) => {
                let at = a.chars().count() + 1;
                let hi = value(spec, b).map_err(|(p, w)| (at + p, w))?;
                if hi < lo {
                    return Err((
                        0,
                        format!(
                            "the range {range} goes backwards; ranges do not wrap, write it as two ranges"
                        ),
                    ));
                }
                (lo, hi, false)
            }
            None => (lo, lo, true),
        }
    };
    let stepped = step.is_some();
    let step = match step {
        None => 1,
        Some((at, s)) => {
            if s.is_empty() {
                return Err((at, "a step needs a number after \"/\"".into()));
            }
            if !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 4 {
                return Err((at, format!("the step \"{s}\" is not a number")));
            }
            let n: u32 = s
                .parse()
                .map_err(|_| (at, format!("the step \"{s}\" is not a number")))?;
            if n == 0 {
                return Err((at, "a step of 0".into()));
            }
            n
        }
    };
    // `N/STEP` runs from N to the field's end.
    let hi = if single && stepped { spec.max } else { hi };
    let mut bits = 0u64;
    let mut v = lo;
    while v <= hi {
        bits |= 1 << v;
        v += step;
    }
    Ok(bits)
}

/// A number or a name within the field's bounds, or (character, what is wrong).
fn value(spec: &Field, text: &str) -> Result<u32, (usize, String)> {
    if let Some(p) = text.find(['?', '#']) {
        let at = text[..p].chars().count();
        return Err(if text.as_bytes()[p] == b'?' {
            (
                at,
                "\"?\" (Quartz's \"no specific value\") is not supported; write *".into(),
            )
        } else {
            (
                at,
                "\"#\" (the nth weekday of the month) is not supported".into(),
            )
        });
    }
    if text.is_empty() {
        return Err((0, "a number is missing".into()));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = if text.len() > 4 {
            u32::MAX
        } else {
            text.parse().unwrap_or(u32::MAX)
        };
        if n < spec.min || n > spec.max {
            return Err((
                0,
                format!("{text} is out of range {}-{}", spec.min, spec.max),
            ));
        }
        return Ok(n);
    }
    let lower = text.to_ascii_lowercase();
    if let Some(i) = spec.names.iter().position(|n| *n == lower) {
        return Ok(i as u32 + spec.min);
    }
    // Quartz's letters, after a number (15W, 5L) or alone (L, LW).
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &lower[digits..];
    if rest == "l" || rest == "lw" || (digits == 0 && lower.starts_with('l') && lower.len() <= 2) {
        return Err((
            digits,
            "\"L\" (the last day or last weekday of the month) is not supported".into(),
        ));
    }
    if rest == "w" {
        return Err((
            digits,
            "\"W\" (the weekday nearest a day) is not supported".into(),
        ));
    }
    Err((
        0,
        if spec.names.is_empty() {
            format!("\"{text}\" is not a number")
        } else {
            format!(
                "\"{text}\" is neither a number nor a name ({})",
                spec.names.join(", ")
            )
        },
    ))
}

impl Schedule {
    /// Refuses a schedule no date satisfies, such as `0 0 30 2 *`.
    fn check_fires(&self, expr: &str, days: &str, months: &str) -> Result<(), String> {
        // Both day fields restricted: either matches, and every weekday comes.
        if !self.days_star && !self.weekdays_star {
            return Ok(());
        }
        // Otherwise a day of the month must exist in an allowed month; each
        // such date falls on every weekday over the years (February 29th too).
        let ok = (1..=12u32)
            .filter(|m| self.months & (1 << m) != 0)
            .any(|m| (1..=month_days(m)).any(|d| self.days & (1 << d) != 0));
        if ok {
            return Ok(());
        }
        let named: Vec<&str> = (1..=12u32)
            .filter(|m| self.months & (1 << m) != 0)
            .map(|m| MONTH_NAMES[m as usize - 1])
            .collect();
        Err(format!(
            "\"{expr}\" never fires: no month in the month field \"{months}\" ({}) has a day \
             in the day of month field \"{days}\"",
            named.join(", ")
        ))
    }

    fn day_ok(&self, date: NaiveDate) -> bool {
        let d = self.days & (1 << date.day()) != 0;
        let w = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        if self.days_star || self.weekdays_star {
            d && w
        } else {
            d || w
        }
    }

    /// The first allowed time of day at or after `from` (midnight if None).
    fn first_time(&self, from: Option<NaiveTime>) -> Option<NaiveTime> {
        let (h0, m0, s0) = from.map_or((0, 0, 0), |t| (t.hour(), t.minute(), t.second()));
        for h in (h0..24).filter(|h| self.hours & (1 << h) != 0) {
            let m_from = if h == h0 { m0 } else { 0 };
            for m in (m_from..60).filter(|m| self.minutes & (1 << m) != 0) {
                let s_from = if h == h0 && m == m0 { s0 } else { 0 };
                if let Some(s) = (s_from..60).find(|s| self.seconds & (1 << s) != 0) {
                    return NaiveTime::from_hms_opt(h, m, s);
                }
            }
        }
        None
    }

    /// The first matching wall-clock time strictly after `after`, within 400
    /// years (a Gregorian cycle: a date that matches at all does by then).
    fn next_wall(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = after.with_nanosecond(0)? + Duration::seconds(1);
        let mut date = start.date();
        let mut from = Some(start.time());
        let end = date.year() + 401;
        while date.year() < end {
            if self.months & (1 << date.month()) == 0 {
                // on to the 1st of the next month
                let (y, m) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                date = NaiveDate::from_ymd_opt(y, m, 1)?;
                from = None;
                continue;
            }
            if self.day_ok(date) {
                if let Some(t) = self.first_time(from) {
                    return Some(date.and_time(t));
                }
            }
            date = date.succ_opt()?;
            from = None;
        }
        None
    }

    /// The first time strictly after `after` the schedule is due, by the rules
    /// for repeated and skipped wall-clock times in the module comment.
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = after.with_timezone(&tz).naive_local();
        // One pass normally; a second when `after` lies in the second pass of
        // a repeated stretch; the rest is a guard against odd zone data.
        for _ in 0..8 {
            let w = self.next_wall(wall)?;
            let due = match tz.from_local_datetime(&w) {
                chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
                chrono::LocalResult::Ambiguous(a, b) => {
                    let (first, second) = if a < b { (a, b) } else { (b, a) };
                    if first.with_timezone(&Utc) > after {
                        first.with_timezone(&Utc)
                    } else {
                        // `after` is in the second pass: w ran in the first.
                        // Go on from the end of the repeated stretch, the
                        // wall-clock time just before the clock went back.
                        let early = offset_at(tz, first.timestamp());
                        let back = first_instant(first.timestamp(), second.timestamp(), |x| {
                            offset_at(tz, x) != early
                        });
                        wall = naive(back - 1 + i64::from(early))?;
                        continue;
                    }
                }
                chrono::LocalResult::None => {
                    // Skipped: the instant the clock jumped past w.
                    let w_s = w.and_utc().timestamp();
                    let jump = first_instant(w_s - 15 * 3600, w_s + 15 * 3600, |x| {
                        x + i64::from(offset_at(tz, x)) > w_s
                    });
                    DateTime::from_timestamp(jump, 0)?
                }
            };
            if due > after {
                return Some(due);
            }
            wall = w;
        }
        None
    }
}

/// The zone's offset from UTC at `instant` (Unix seconds), in seconds.
fn offset_at(tz: Tz, instant: i64) -> i32 {
    DateTime::from_timestamp(instant, 0)
        .map(|t| {
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        })
        .unwrap_or(0)
}

fn naive(secs: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp(secs, 0).map(|t| t.naive_utc())
}

/// The smallest x in (lo, hi] with `pred(x)`, for `pred` false at lo and
/// true from some point on: a zone's transition, found to the second.
fn first_instant(mut lo: i64, mut hi: i64, pred: impl Fn(i64) -> bool) -> i64 {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// The IANA zone called `name`.
pub fn zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("unknown time zone \"{name}\""))
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

    fn err(expr: &str) -> String {
        parse(expr, true).err().unwrap()
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
    fn lists_ranges_steps_and_names() {
        assert_eq!(
            runs("5/20 8-9 * * *", "UTC", "2026-01-01T08:30:00Z", 4),
            [
                "2026-01-01T08:45:00+00:00",
                "2026-01-01T09:05:00+00:00",
                "2026-01-01T09:25:00+00:00",
                "2026-01-01T09:45:00+00:00"
            ]
        );
        // 2026-01-01 is a Thursday; Sunday is 0 and 7.
        assert_eq!(
            runs("0 12 * JAN-feb Sun", "UTC", "2026-01-01T00:00:00Z", 1),
            ["2026-01-04T12:00:00+00:00"]
        );
        assert_eq!(parse("0 0 * * 7", true), parse("0 0 * * 0", true));
        assert_eq!(
            parse("0 0 * * 1,3-5", true),
            parse("0 0 * * mon,wed-fri", true)
        );
        assert_eq!(
            runs("0 0 1-10/3,20 * *", "UTC", "2026-01-01T00:00:00Z", 5),
            [
                "2026-01-04T00:00:00+00:00",
                "2026-01-07T00:00:00+00:00",
                "2026-01-10T00:00:00+00:00",
                "2026-01-20T00:00:00+00:00",
                "2026-02-01T00:00:00+00:00"
            ]
        );
    }

    #[test]
    fn macros() {
        assert_eq!(parse("@hourly", false), parse("0 * * * *", false));
        assert_eq!(parse("@daily", false), parse("0 0 * * *", false));
        assert_eq!(parse("@midnight", false), parse("0 0 * * *", false));
        assert_eq!(parse("@weekly", false), parse("0 0 * * 0", false));
        assert_eq!(parse("@monthly", false), parse("0 0 1 * *", false));
        assert_eq!(parse("@yearly", false), parse("0 0 1 1 *", false));
        assert_eq!(parse("@ANNUALLY", false), parse("0 0 1 1 *", false));
        assert!(err("@reboot").contains("@reboot is not supported"));
        assert!(err("@fortnightly").contains("not a known macro"));
    }

    #[test]
    fn either_day_field_when_both_are_restricted() {
        // The 1st and 15th, plus every Friday (crontab(5)'s example).
        // 2026-01-01 is a Thursday: Fri 2nd, Fri 9th, Thu 15th, Fri 16th.
        assert_eq!(
            runs("30 4 1,15 * 5", "UTC", "2026-01-01T05:00:00Z", 4),
            [
                "2026-01-02T04:30:00+00:00",
                "2026-01-09T04:30:00+00:00",
                "2026-01-15T04:30:00+00:00",
                "2026-01-16T04:30:00+00:00"
            ]
        );
        // One field `*`: only the other counts.
        assert_eq!(
            runs("0 0 * * 5", "UTC", "2026-01-01T05:00:00Z", 1),
            ["2026-01-02T00:00:00+00:00"]
        );
        // `*/2` starts with `*`: both must match (Vixie's rule): odd days that are Fridays.
        assert_eq!(
            runs("0 0 */2 * 5", "UTC", "2026-01-01T05:00:00Z", 2),
            ["2026-01-09T00:00:00+00:00", "2026-01-23T00:00:00+00:00"]
        );
    }

    #[test]
    fn errors_name_the_field_and_the_place() {
        assert!(err("61 * * * *").contains("minute field \"61\""));
        assert!(err("61 * * * *").contains("at character 1: 61 is out of range 0-59"));
        assert!(err("0 25 * * *").contains("hour field \"25\""));
        assert!(err("0 0 * 13 *").contains("month field \"13\""));
        assert!(err("0 0 * * funday").contains("day of week field"));
        assert!(err("99 0 0 * * *").contains("second field \"99\""));
        assert!(err("* * *").contains("3 fields"));
        assert!(parse("0 0 0 * * *", false)
            .err()
            .unwrap()
            .contains("seconds are turned off"));
        assert!(zone("Mars/Olympus").is_err());
        let e = err("1,,2 * * * *");
        assert!(e.contains("minute field \"1,,2\""), "{e}");
        assert!(e.contains("at character 3: an empty list item"), "{e}");
        assert!(err("0 1, * * *").contains("hour field \"1,\" in \"0 1, * * *\" at character 5"));
        assert!(err("0 0 * * 5-1").contains("goes backwards"));
        assert!(err("*/0 * * * *").contains("at character 3: a step of 0"));
        assert!(err("*/ * * * *").contains("needs a number"));
        assert!(err("0 1-x * * *").contains("at character 5: \"x\" is not a number"));
        assert!(err("0 0 1- * *").contains("at character 7: a number is missing"));
    }

    #[test]
    fn quartz_extensions_are_refused_by_name() {
        assert!(err("0 0 L * *").contains("\"L\" (the last day"));
        assert!(err("0 0 * * 5L").contains("at character 10: \"L\""));
        assert!(err("0 0 LW * *").contains("\"L\""));
        assert!(err("0 0 15W * *").contains("at character 7: \"W\""));
        assert!(err("0 0 * * 5#3").contains("at character 10: \"#\""));
        assert!(err("0 0 ? * 1").contains("at character 5: \"?\""));
        // names with those letters are fine
        assert!(parse("0 0 * jul wed", true).is_ok());
    }

    #[test]
    fn never_firing_expressions_are_refused() {
        for e in [
            "0 0 30 2 *",
            "0 0 31 4 *",
            "0 0 30,31 2 *",
            "0 0 31 4,6,9,11 *",
        ] {
            assert!(err(e).contains("never fires"), "{e}");
        }
        assert!(err("0 0 30 2 *").contains("(February)"));
        // February 29th fires in leap years, and on a Monday in some of them.
        assert_eq!(
            runs("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 1),
            ["2028-02-29T00:00:00+00:00"]
        );
        assert_eq!(
            runs("0 0 */29 2 1", "UTC", "2026-01-01T00:00:00Z", 1),
            ["2027-02-01T00:00:00+00:00"]
        );
        // Both restricted: either day field, so a day 30 in February is no obstacle.
        assert!(parse("0 0 30 2 1", true).is_ok());
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
        // Every 15 minutes: the four skipped times and 03:00 itself run once, at the jump.
        assert_eq!(
            runs(
                "*/15 * * * *",
                "America/New_York",
                "2026-03-08T06:40:00Z",
                3
            ),
            [
                "2026-03-08T06:45:00+00:00",
                "2026-03-08T07:00:00+00:00",
                "2026-03-08T07:15:00+00:00"
            ]
        );
        // Chatham (+12:45 to +13:45): 02:45 jumps to 03:45.
        assert_eq!(
            runs("0 3 * * *", "Pacific/Chatham", "2026-09-26T00:00:00Z", 1),
            ["2026-09-26T14:00:00+00:00"]
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
    fn start_inside_the_repeated_hour() {
        // The case: 06:10Z is 01:10 EST, the second pass; 01:15 to
        // 01:45 ran in the first, so the next run is 02:00 EST.
        assert_eq!(
            runs(
                "*/15 * * * *",
                "America/New_York",
                "2026-11-01T06:10:00Z",
                2
            ),
            ["2026-11-01T07:00:00+00:00", "2026-11-01T07:15:00+00:00"]
        );
        // Seconds: no search through every repeated second.
        assert_eq!(
            runs("* * * * * *", "America/New_York", "2026-11-01T06:10:00Z", 1),
            ["2026-11-01T07:00:00+00:00"]
        );
        // In the first pass, the times go on as the clock reads.
        assert_eq!(
            runs(
                "*/15 * * * *",
                "America/New_York",
                "2026-11-01T05:50:00Z",
                2
            ),
            ["2026-11-01T07:00:00+00:00", "2026-11-01T07:15:00+00:00"]
        );
        assert_eq!(
            runs(
                "*/15 * * * *",
                "America/New_York",
                "2026-11-01T05:10:00Z",
                1
            ),
            ["2026-11-01T05:15:00+00:00"]
        );
        // Sydney falls back 2026-04-05 03:00 AEDT to 02:00 AEST (16:00Z).
        assert_eq!(
            runs("30 2 * * *", "Australia/Sydney", "2026-04-04T16:10:00Z", 1),
            ["2026-04-05T16:30:00+00:00"]
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
