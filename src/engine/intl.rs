//! Intl: DateTimeFormat, NumberFormat and Collator, with Number and Date
//! `toLocale*String` and String `localeCompare` going through them. `intl.js`
//! defines the JS side; formatting is ICU4X's with its compiled CLDR data.
//! Loaded on a script's first touch of `Intl` or one of those methods.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use chrono::{Datelike, TimeZone, Timelike};
use fixed_decimal::{Decimal, SignedRoundingMode, UnsignedRoundingMode};
use icu::collator::options::{CaseLevel, CollatorOptions, Strength};
use icu::collator::{Collator, CollatorBorrowed, CollatorPreferences};
use icu::datetime::fieldsets::builder::BuilderError;
use icu::datetime::fieldsets::builder::{DateFields, FieldSetBuilder};
use icu::datetime::fieldsets::enums::CompositeDateTimeFieldSet;
use icu::datetime::input::{Date, DateTime, Time};
use icu::datetime::options::{Length, TimePrecision, YearStyle};
use icu::datetime::{DateTimeFormatter, DateTimeFormatterPreferences};
use icu::decimal::options::{DecimalFormatterOptions, GroupingStrategy};
use icu::decimal::{DecimalFormatter, DecimalFormatterPreferences};
use icu::locale::Locale;
use icu_datetime::fieldbag::{field, DateTimeFieldBag};
use icu_experimental::dimension::currency::formatter::{
    CurrencyFormatter, CurrencyFormatterPreferences,
};
use icu_experimental::dimension::currency::CurrencyType;
use icu_experimental::dimension::percent::formatter::{
    PercentFormatter, PercentFormatterPreferences,
};
use rquickjs::{Ctx, Exception, Function, Object};

use super::lazy::Library;

pub static LIBRARY: Library = Library::new("jsrt:intl", include_str!("intl.js"), &["Intl"]);

/// Built-in methods that format through Intl once it is loaded.
const METHODS: [(&str, &str); 6] = [
    ("Number", "toLocaleString"),
    ("BigInt", "toLocaleString"),
    ("Date", "toLocaleString"),
    ("Date", "toLocaleDateString"),
    ("Date", "toLocaleTimeString"),
    ("String", "localeCompare"),
];

pub fn install(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    LIBRARY.install(ctx, |ctx| LIBRARY.evaluate(ctx, natives(ctx)?))?;
    LIBRARY.install_methods(ctx, &METHODS, |ctx| LIBRARY.evaluate(ctx, natives(ctx)?))
}

/// Formatters are slow to make and cheap to use: each backend keeps the
/// last few it made, by locale and options.
struct Cache {
    dates: HashMap<String, Rc<DateTimeFormatter<CompositeDateTimeFieldSet>>>,
    numbers: HashMap<String, Rc<NumberFormatter>>,
    collators: HashMap<String, Rc<CollatorBorrowed<'static>>>,
}

const CACHE_SIZE: usize = 64;

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache {
        dates: HashMap::new(),
        numbers: HashMap::new(),
        collators: HashMap::new(),
    });
}

fn cached<T>(
    map: impl Fn(&mut Cache) -> &mut HashMap<String, Rc<T>>,
    key: String,
    make: impl FnOnce() -> Result<T, String>,
) -> Result<Rc<T>, String> {
    if let Some(f) = CACHE.with(|c| map(&mut c.borrow_mut()).get(&key).cloned()) {
        return Ok(f);
    }
    let f = Rc::new(make()?);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let m = map(&mut c);
        if m.len() >= CACHE_SIZE {
            m.clear();
        }
        m.insert(key, f.clone());
    });
    Ok(f)
}

enum NumberFormatter {
    Decimal(DecimalFormatter),
    Percent(PercentFormatter<DecimalFormatter>),
    Currency(CurrencyFormatter<DecimalFormatter>),
}

fn natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let n = Object::new(ctx.clone())?;
    n.set(
        "locale",
        Function::new(ctx.clone(), |tag: String| -> Option<String> {
            Locale::try_from_str(&tag).ok().map(|l| l.to_string())
        })?,
    )?;
    n.set(
        "timeZone",
        Function::new(ctx.clone(), |tz: String| -> Option<String> {
            time_zone(&tz).map(|z| z.name().to_string())
        })?,
    )?;
    n.set(
        "formatDate",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, locale: String, ms: f64, o: Object<'js>| {
                format_date(&locale, ms, &o)
                    .map_err(|m| Exception::throw_range(&ctx, &format!("Intl.DateTimeFormat: {m}")))
            },
        )?,
    )?;
    n.set(
        "formatNumber",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, locale: String, x: rquickjs::Value<'js>, o: Object<'js>| {
                // a number, or a BigInt's digits as a string
                let digits = match x.as_string() {
                    Some(s) => s.to_string()?,
                    None => format!("{}", x.as_number().unwrap_or(f64::NAN)),
                };
                format_number(&locale, &digits, &o)
                    .map_err(|m| Exception::throw_range(&ctx, &format!("Intl.NumberFormat: {m}")))
            },
        )?,
    )?;
    n.set(
        "compare",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, locale: String, a: String, b: String, o: Object<'js>| {
                compare(&locale, &a, &b, &o)
                    .map_err(|m| Exception::throw_range(&ctx, &format!("Intl.Collator: {m}")))
            },
        )?,
    )?;
    Ok(n)
}

fn time_zone(name: &str) -> Option<chrono_tz::Tz> {
    if name.eq_ignore_ascii_case("utc") {
        return Some(chrono_tz::UTC);
    }
    name.parse::<chrono_tz::Tz>().ok()
}

fn locale(tag: &str) -> Result<Locale, String> {
    Locale::try_from_str(tag).map_err(|e| format!("\"{tag}\" is not a locale: {e}"))
}

fn opt(o: &Object<'_>, key: &str) -> Option<String> {
    o.get::<_, Option<String>>(key).ok().flatten()
}

/// The options intl.js resolved: each a string or absent.
fn options_key(o: &Object<'_>, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("{k}={}", opt(o, k).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(";")
}

const DATE_KEYS: [&str; 12] = [
    "dateStyle",
    "timeStyle",
    "weekday",
    "era",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "fractionalSecondDigits",
    "timeZone",
];

fn format_date(tag: &str, ms: f64, o: &Object<'_>) -> Result<String, String> {
    if !ms.is_finite() {
        return Err("Invalid time value".into());
    }
    let tz = match opt(o, "timeZone") {
        Some(z) => time_zone(&z).ok_or_else(|| format!("unknown time zone \"{z}\""))?,
        None => chrono_tz::UTC,
    };
    let utc = chrono::Utc
        .timestamp_millis_opt(ms as i64)
        .single()
        .ok_or("the date is out of range")?;
    let local = utc.with_timezone(&tz).naive_local();
    let key = format!("{tag}|{}", options_key(o, &DATE_KEYS));
    let f = cached(
        |c| &mut c.dates,
        key,
        || {
            let prefs = DateTimeFormatterPreferences::from(&locale(tag)?);
            let fields =
                field_set(o).map_err(|e| format!("these options cannot be combined: {e:?}"))?;
            DateTimeFormatter::try_new(prefs, fields).map_err(|e| e.to_string())
        },
    )?;
    let date = Date::try_new_iso(local.year(), local.month() as u8, local.day() as u8)
        .map_err(|e| e.to_string())?;
    let time = Time::try_new(
        local.hour() as u8,
        local.minute() as u8,
        local.second() as u8,
        local.nanosecond().min(999_999_999),
    )
    .map_err(|e| e.to_string())?;
    Ok(f.format(&DateTime { date, time }).to_string())
}

fn field_set(o: &Object<'_>) -> Result<CompositeDateTimeFieldSet, BuilderError> {
    let (date_style, time_style) = (opt(o, "dateStyle"), opt(o, "timeStyle"));
    if date_style.is_some() || time_style.is_some() {
        let mut b = FieldSetBuilder::new();
        let style = date_style.as_deref().or(time_style.as_deref());
        b.length = Some(match style {
            Some("full") | Some("long") => Length::Long,
            Some("medium") => Length::Medium,
            _ => Length::Short,
        });
        b.date_fields = match date_style.as_deref() {
            Some("full") => Some(DateFields::YMDE),
            Some(_) => Some(DateFields::YMD),
            None => None,
        };
        b.time_precision = match time_style.as_deref() {
            Some("short") => Some(TimePrecision::Minute),
            Some(_) => Some(TimePrecision::Second),
            None => None,
        };
        return b.build_composite_datetime();
    }
    let mut bag = DateTimeFieldBag::default();
    bag.weekday = opt(o, "weekday").map(|v| match v.as_str() {
        "long" => field::Weekday::Long,
        "narrow" => field::Weekday::Narrow,
        _ => field::Weekday::Short,
    });
    bag.era = opt(o, "era").map(|v| match v.as_str() {
        "long" => field::Era::Long,
        "narrow" => field::Era::Narrow,
        _ => field::Era::Short,
    });
    bag.year = opt(o, "year").map(|v| match v.as_str() {
        "2-digit" => field::Year::TwoDigit,
        _ => field::Year::Numeric,
    });
    bag.month = opt(o, "month").map(|v| match v.as_str() {
        "2-digit" => field::Month::TwoDigit,
        "long" => field::Month::Long,
        "short" => field::Month::Short,
        "narrow" => field::Month::Narrow,
        _ => field::Month::Numeric,
    });
    bag.day = opt(o, "day").map(|v| match v.as_str() {
        "2-digit" => field::Day::TwoDigit,
        _ => field::Day::Numeric,
    });
    bag.hour = opt(o, "hour").map(|v| match v.as_str() {
        "2-digit" => field::Hour::TwoDigit,
        _ => field::Hour::Numeric,
    });
    bag.minute = opt(o, "minute").map(|v| match v.as_str() {
        "2-digit" => field::Minute::TwoDigit,
        _ => field::Minute::Numeric,
    });
    bag.second = opt(o, "second").map(|v| match v.as_str() {
        "2-digit" => field::Second::TwoDigit,
        _ => field::Second::Numeric,
    });
    bag.fractional_second_digits = opt(o, "fractionalSecondDigits").map(|v| match v.as_str() {
        "1" => field::FractionalSecondDigits::F1,
        "2" => field::FractionalSecondDigits::F2,
        _ => field::FractionalSecondDigits::F3,
    });
    let mut b = bag.to_field_set_builder();
    b.zone_style = None;
    // A numeric year is the full year, as ECMA-402 has it ("2026", not "26").
    if matches!(bag.year, Some(field::Year::Numeric)) && b.date_fields.is_some() {
        b.year_style = Some(YearStyle::Full);
    }
    b.build_composite_datetime()
}

const NUMBER_KEYS: [&str; 4] = ["style", "currency", "currencyDisplay", "useGrouping"];

/// Formats `digits`, a decimal number as Rust writes an f64 (no exponent)
/// or a BigInt's digits.
fn format_number(tag: &str, digits: &str, o: &Object<'_>) -> Result<String, String> {
    let key = format!("{tag}|{}", options_key(o, &NUMBER_KEYS));
    let style = opt(o, "style").unwrap_or_default();
    let f = cached(
        |c| &mut c.numbers,
        key,
        || {
            let loc = locale(tag)?;
            Ok(match style.as_str() {
                "percent" => NumberFormatter::Percent(
                    PercentFormatter::try_new(
                        PercentFormatterPreferences::from(&loc),
                        Default::default(),
                    )
                    .map_err(|e| e.to_string())?,
                ),
                "currency" => {
                    let code = opt(o, "currency").unwrap_or_default().to_ascii_lowercase();
                    let currency = CurrencyType::try_from_str(&code)
                        .map_err(|_| format!("\"{code}\" is not a currency code"))?;
                    let prefs = CurrencyFormatterPreferences::from(&loc);
                    let made = match opt(o, "currencyDisplay").as_deref() {
                        Some("code") => {
                            CurrencyFormatter::try_new_code(prefs, currency, Default::default())
                        }
                        Some("name") => CurrencyFormatter::try_new_name(prefs, currency),
                        Some("narrowSymbol") => CurrencyFormatter::try_new_symbol_narrow(
                            prefs,
                            currency,
                            Default::default(),
                        ),
                        _ => CurrencyFormatter::try_new_symbol(prefs, currency, Default::default()),
                    };
                    NumberFormatter::Currency(made.map_err(|e| e.to_string())?)
                }
                _ => {
                    let mut options = DecimalFormatterOptions::default();
                    options.grouping_strategy = Some(match opt(o, "useGrouping").as_deref() {
                        Some("false") => GroupingStrategy::Never,
                        Some("always") => GroupingStrategy::Always,
                        Some("min2") => GroupingStrategy::Min2,
                        _ => GroupingStrategy::Auto,
                    });
                    NumberFormatter::Decimal(
                        DecimalFormatter::try_new(DecimalFormatterPreferences::from(&loc), options)
                            .map_err(|e| e.to_string())?,
                    )
                }
            })
        },
    )?;
    let places =
        |k: &str| -> Option<i16> { o.get::<_, Option<i32>>(k).ok().flatten().map(|n| n as i16) };
    let mut d = Decimal::try_from_str(digits).map_err(|e| format!("{digits}: {e:?}"))?;
    if matches!(*f, NumberFormatter::Percent(_)) {
        d.multiply_pow10(2);
    }
    if let (Some(min), Some(max)) = (
        places("minimumFractionDigits"),
        places("maximumFractionDigits"),
    ) {
        d.round_with_mode(
            -max,
            SignedRoundingMode::Unsigned(UnsignedRoundingMode::HalfExpand),
        );
        d.absolute.trim_end();
        d.absolute.pad_end(-min);
    }
    if let Some(min) = places("minimumIntegerDigits") {
        d.absolute.pad_start(min);
    }
    Ok(match &*f {
        NumberFormatter::Decimal(f) => f.format(&d).to_string(),
        NumberFormatter::Percent(f) => f.format(&d).to_string(),
        NumberFormatter::Currency(f) => f.format_fixed_decimal(&d).to_string(),
    })
}

fn compare(tag: &str, a: &str, b: &str, o: &Object<'_>) -> Result<i32, String> {
    let key = format!("{tag}|{}", options_key(o, &["sensitivity", "numeric"]));
    let c = cached(
        |c| &mut c.collators,
        key,
        || {
            let mut tag = tag.to_string();
            if opt(o, "numeric").as_deref() == Some("true") {
                tag = with_keyword(&tag, "kn", "true");
            }
            let prefs = CollatorPreferences::from(&locale(&tag)?);
            let mut options = CollatorOptions::default();
            let sensitivity = opt(o, "sensitivity").unwrap_or_else(|| "variant".into());
            options.strength = Some(match sensitivity.as_str() {
                "base" | "case" => Strength::Primary,
                "accent" => Strength::Secondary,
                _ => Strength::Tertiary,
            });
            if sensitivity == "case" {
                options.case_level = Some(CaseLevel::On);
            }
            Collator::try_new(prefs, options).map_err(|e| e.to_string())
        },
    )?;
    Ok(match c.compare(a, b) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    })
}

/// `tag` with the Unicode extension keyword `key` set to `value`.
fn with_keyword(tag: &str, key: &str, value: &str) -> String {
    if tag.contains("-u-") {
        format!("{tag}-{key}-{value}")
    } else {
        format!("{tag}-u-{key}-{value}")
    }
}
