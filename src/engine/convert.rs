//! Values crossing between QuickJS and Postgres: JSON text checks, the text
//! forms of ctx.db parameters, SQL identifiers. Pure: no Postgres here.

/// Whether JSON text holds a `\u0000` escape, which jsonb refuses. A
/// backslash escaped itself (`\\u0000`) is text, not a NUL.
pub fn has_nul_escape(json: &str) -> bool {
    let b = json.as_bytes();
    let mut i = 0;
    while let Some(off) = json[i..].find("\\u0000") {
        let at = i + off;
        let backslashes = b[..at].iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes % 2 == 0 {
            return true;
        }
        i = at + 1;
    }
    false
}

/// A ctx.db parameter as JS gave it, before its SQL type is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Null,
    Bool(bool),
    Number(f64),
    /// a JS BigInt, in decimal
    BigInt(String),
    Text(String),
    /// a JS Date: milliseconds since 1970 UTC
    Date(f64),
    Bytes(Vec<u8>),
    /// a JS array: its items, and its JSON text for json parameters
    Array(Vec<Arg>, String),
    /// any other object, as JSON text
    Json(String),
}

/// What kind of SQL type a parameter has: it decides the text form.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Json,
    Bytea,
    /// date, time, timestamp and their zoned kinds: a Date goes in Postgres's own form (BC, 5-digit years)
    Temporal,
    /// an array type, with the kind of its elements
    Array(Box<Target>),
    Scalar,
}

/// The text a parameter is given to its type's input function as; None is SQL NULL.
pub fn encode(arg: &Arg, target: &Target) -> Result<Option<String>, String> {
    Ok(Some(match (arg, target) {
        (Arg::Null, _) => return Ok(None),
        // Strings go in as they are (like node-postgres): they may already be JSON or array literals.
        (Arg::Text(s), _) => s.clone(),
        (Arg::Bytes(b), _) => format!("\\x{}", crate::encoding::hex(b)),
        // Anything else as bytea would store its JSON or number text, not bytes.
        (other, Target::Bytea) => {
            return Err(format!(
                "bytea takes a Uint8Array (or another typed array, a DataView, an ArrayBuffer) or a string in bytea's text form, not {}",
                other.kind()
            ))
        }
        (Arg::Array(_, json), Target::Json) | (Arg::Json(json), _) => json.clone(),
        (Arg::Array(items, _), Target::Array(elem)) => array_literal(items, elem)?,
        (Arg::Array(_, json), _) => json.clone(),
        (Arg::Date(ms), Target::Json) => format!("\"{}\"", iso_date(*ms)?),
        (Arg::Date(ms), Target::Temporal) => pg_timestamp(*ms)?,
        (Arg::Date(ms), _) => iso_date(*ms)?,
        (Arg::Bool(b), _) => b.to_string(),
        (Arg::Number(n), _) => number(*n),
        (Arg::BigInt(n), _) => n.clone(),
    }))
}

impl Arg {
    /// What the value is, for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Arg::Null => "null",
            Arg::Bool(_) => "a boolean",
            Arg::Number(_) => "a number",
            Arg::BigInt(_) => "a BigInt",
            Arg::Text(_) => "a string",
            Arg::Date(_) => "a Date",
            Arg::Bytes(_) => "bytes",
            Arg::Array(..) => "an array",
            Arg::Json(_) => "an object",
        }
    }
}

/// `{1,2,"a \"b\""}`: items quoted and escaped, nested arrays as nested braces.
fn array_literal(items: &[Arg], elem: &Target) -> Result<String, String> {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Arg::Array(inner, _) if *elem != Target::Json => {
                out.push_str(&array_literal(inner, elem)?)
            }
            _ => match encode(item, elem)? {
                None => out.push_str("NULL"),
                Some(text) => {
                    out.push('"');
                    for c in text.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
            },
        }
    }
    out.push('}');
    Ok(out)
}

/// A JS number as Postgres reads it: integers without a fraction, NaN and Infinity by name.
pub fn number(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if n == 0.0 {
        // "-0" for -0, which float4, float8 and their arrays keep (JS's String(-0) is "0").
        format!("{n}")
    } else {
        // The shortest text that reads back as the same double: JS's digits
        // where JS writes no exponent, else Rust's (the same value).
        json_number(n).unwrap_or_else(|| format!("{n}"))
    }
}

/// `JSON.stringify(n)` where it writes no exponent (zero, and 1e-6 <= |n| <
/// 1e21): the shortest text that reads back as the same double, and of two
/// as short and as near, the even one, as ECMAScript's Number::toString
/// says (Rust's `{}` picks the other at times: 1401764202949548.25 is ….2
/// in JS). None otherwise (NaN and the infinities are `null` there, the rest
/// exponent forms).
pub fn json_number(n: f64) -> Option<String> {
    if n == 0.0 {
        return Some("0".into());
    }
    if !(n.abs() >= 1e-6 && n.abs() < 1e21) {
        return None;
    }
    let mut buffer = zmij::Buffer::new();
    // Żmij writes the same digits, as `123.45`, `100.0`, `1e-6` or `1.5e+16`.
    let text = buffer.format_finite(n);
    let (mantissa, exponent) = match text.split_once('e') {
        None => return Some(text.strip_suffix(".0").unwrap_or(text).to_string()),
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
    };
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    // Where the point goes, counted in digits from the first.
    let point = whole.len() as i32 + exponent;
    let k = digits.len() as i32;
    Some(if point >= k {
        format!("{sign}{digits}{}", "0".repeat((point - k) as usize))
    } else if point > 0 {
        let (a, b) = digits.split_at(point as usize);
        format!("{sign}{a}.{b}")
    } else {
        format!("{sign}0.{}{digits}", "0".repeat(-point as usize))
    })
}

/// A numeric's value (its bytes after the varlena header, as PostgreSQL
/// stores them) as the nearest double, where one IEEE operation gives it
/// exactly rounded: the integer of its digits at most 2^53, scaled by a power
/// of ten of at most 22. That is the double JSON.parse reads from
/// numeric_out's text. None otherwise (more digits, a larger scale, NaN and
/// the infinities): the caller reads the text.
pub fn numeric_f64(b: &[u8]) -> Option<f64> {
    // PostgreSQL 15's numeric.c: a 2-byte header, then (long format) a
    // 2-byte weight, then base-10000 digits of 2 bytes each, native order.
    const SHORT: u16 = 0x8000;
    const SPECIAL: u16 = 0xC000;
    const NEG: u16 = 0x4000;
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let half = |i: usize| Some([*b.get(i)?, *b.get(i + 1)?]);
    let header = u16::from_ne_bytes(half(0)?);
    let (negative, weight, digits) = match header & SPECIAL {
        SPECIAL => return None,
        SHORT => {
            let w = i32::from(header & 0x003F);
            let weight = if header & 0x0040 != 0 { w | !0x003F } else { w };
            (header & 0x2000 != 0, weight, b.get(2..)?)
        }
        flags => (
            flags == NEG,
            i32::from(i16::from_ne_bytes(half(2)?)),
            b.get(4..)?,
        ),
    };
    let mut m: u64 = 0;
    for d in digits.chunks(2) {
        let d = u64::try_from(i16::from_ne_bytes([d[0], *d.get(1)?])).ok()?;
        m = m.checked_mul(10_000)?.checked_add(d)?;
        if m > 1 << 53 {
            return None;
        }
    }
    if m == 0 {
        return Some(0.0);
    }
    let ndigits = i32::try_from(digits.len() / 2).ok()?;
    let exponent = 4 * (weight - (ndigits - 1));
    let scale = *POW10.get(usize::try_from(exponent.unsigned_abs()).ok()?)?;
    let v = if exponent >= 0 {
        m as f64 * scale
    } else {
        m as f64 / scale
    };
    Some(if negative { -v } else { v })
}

/// The numeric numeric_in makes of `text`, a decimal without exponent
/// (`-?[0-9]+(\.[0-9]+)?`, as `json_number` writes): its bytes after the
/// varlena header, in PostgreSQL 15's layout (`numeric_f64`). None for any
/// other text.
pub fn numeric_bytes(text: &str) -> Option<Vec<u8>> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return None,
        None => (unsigned, ""),
    };
    let decimal = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !decimal(int) || !decimal(frac) {
        return None;
    }
    // Base-10000 digits, the decimal point on a digit boundary.
    let lead = (4 - int.len() % 4) % 4;
    let trail = (4 - frac.len() % 4) % 4;
    let padded: Vec<u8> = std::iter::repeat_n(0, lead)
        .chain(int.bytes().chain(frac.bytes()).map(|b| b - b'0'))
        .chain(std::iter::repeat_n(0, trail))
        .collect();
    let mut digits: Vec<i16> = padded
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |n, &d| n * 10 + i16::from(d)))
        .collect();
    let mut weight = i32::try_from((lead + int.len()) / 4).ok()? - 1;
    // As numeric.c's make_result: no leading or trailing zero digits; zero is positive, weight 0.
    let first = digits.iter().position(|&d| d != 0).unwrap_or(digits.len());
    digits.drain(..first);
    weight -= i32::try_from(first).ok()?;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let negative = negative && !digits.is_empty();
    if digits.is_empty() {
        weight = 0;
    }
    let dscale = u16::try_from(frac.len()).ok()?;
    let mut b = Vec::with_capacity(4 + 2 * digits.len());
    if dscale <= 0x3F && (-64..=63).contains(&weight) {
        let header = 0x8000
            | if negative { 0x2000 } else { 0 }
            | dscale << 7
            | if weight < 0 { 0x0040 } else { 0 }
            | (weight & 0x3F) as u16;
        b.extend(header.to_ne_bytes());
    } else {
        let flags = if negative { 0x4000 } else { 0 };
        b.extend((flags | (dscale & 0x3FFF)).to_ne_bytes());
        b.extend(i16::try_from(weight).ok()?.to_ne_bytes());
    }
    digits.iter().for_each(|d| b.extend(d.to_ne_bytes()));
    Some(b)
}

/// How SQL values are read into JS, as a call to ctx.db asks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadOptions {
    /// timestamps as Postgres's text (`2024-03-01 12:00:00.123456+00`), microseconds and all
    pub exact_timestamps: bool,
    /// json and jsonb as their JSON text: jsonb `null` is "null", SQL NULL is null
    pub json_text: bool,
}

/// The body of a `LANGUAGE jsrt` function: its script's id, then optionally
/// its read options as a JSON object, `<id> {"exactTimestamps": true}`.
pub fn function_body(src: &str) -> Result<(String, ReadOptions), String> {
    let src = src.trim();
    let (id, rest) = src.split_once(char::is_whitespace).unwrap_or((src, ""));
    if crate::engine::ids::parse(id).is_none() {
        return Err(format!(
            "the body of a jsrt function is the id of its script (and its options), not \"{src}\""
        ));
    }
    let mut read = ReadOptions::default();
    let rest = rest.trim();
    if !rest.is_empty() {
        let v: serde_json::Value = serde_json::from_str(rest)
            .map_err(|e| format!("the options of a jsrt function are a JSON object: {e}"))?;
        let o = v
            .as_object()
            .ok_or("the options of a jsrt function are a JSON object")?;
        for (k, v) in o {
            let flag = v
                .as_bool()
                .ok_or_else(|| format!("option \"{k}\" must be true or false"))?;
            match k.as_str() {
                "exactTimestamps" => read.exact_timestamps = flag,
                "jsonText" => read.json_text = flag,
                _ => {
                    return Err(format!(
                        "unknown option \"{k}\"; options are exactTimestamps, jsonText"
                    ))
                }
            }
        }
    }
    Ok((id.to_ascii_lowercase(), read))
}

/// The largest integer a JS number holds exactly.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// `2024-03-01T12:00:00.000Z` for milliseconds since 1970, as Date.toISOString writes it.
pub fn iso_date(ms: f64) -> Result<String, String> {
    let (y, m, d, in_day) = split_ms(ms)?;
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else {
        format!("{}{:06}", if y < 0 { '-' } else { '+' }, y.abs())
    };
    Ok(format!(
        "{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    ))
}

/// `2024-03-01 12:00:00.000+00`, `0044-03-15 00:00:00.000+00 BC` or
/// `10000-01-01 ...`: a Date as the date and time types read it, whatever
/// the year (the ISO form's `-000043` and `+010000` are not Postgres input).
pub fn pg_timestamp(ms: f64) -> Result<String, String> {
    let (y, m, d, in_day) = split_ms(ms)?;
    let (year, era) = if y <= 0 { (1 - y, " BC") } else { (y, "") };
    Ok(format!(
        "{year:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}+00{era}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    ))
}

/// Year, month, day and milliseconds into the day of a Date's time value.
fn split_ms(ms: f64) -> Result<(i64, u32, u32, i64), String> {
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return Err("an invalid Date cannot be a parameter".into());
    }
    let ms = ms as i64;
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    Ok((y, m, d, ms.rem_euclid(86_400_000)))
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `"name"`, quoted for SQL. Names are taken exactly: no case folding.
pub fn quote_ident(name: &str) -> Result<String, String> {
    if name.is_empty() || name.contains('\0') || name.len() > 63 {
        return Err(format!("\"{name}\" is not a column or table name"));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn numerics_read_as_the_nearest_double() {
        // (header, weight for the long format, base-10000 digits) as numeric.c stores them
        fn short(header: u16, digits: &[i16]) -> Vec<u8> {
            let mut b = header.to_ne_bytes().to_vec();
            digits.iter().for_each(|d| b.extend(d.to_ne_bytes()));
            b
        }
        fn long(flags: u16, weight: i16, digits: &[i16]) -> Vec<u8> {
            let mut b = flags.to_ne_bytes().to_vec();
            b.extend(weight.to_ne_bytes());
            digits.iter().for_each(|d| b.extend(d.to_ne_bytes()));
            b
        }
        // 123.45: short, dscale 2, weight 0
        assert_eq!(
            numeric_f64(&short(0x8000 | 2 << 7, &[123, 4500])),
            Some(123.45)
        );
        // -0.5: short, negative, dscale 1, weight -1
        assert_eq!(
            numeric_f64(&short(0x8000 | 0x2000 | 1 << 7 | 0x7F, &[5000])),
            Some(-0.5)
        );
        // 0 (no digits), 0.1, 12345678 (weight 1)
        assert_eq!(numeric_f64(&short(0x8000, &[])), Some(0.0));
        assert_eq!(
            numeric_f64(&short(0x8000 | 1 << 7 | 0x7F, &[1000])),
            Some(0.1)
        );
        assert_eq!(
            numeric_f64(&short(0x8000 | 1, &[1234, 5678])),
            Some(12345678.0)
        );
        // long format: -1e20 (weight 5), 2^53 + 1 (past the exact range: None)
        assert_eq!(numeric_f64(&long(0x4000, 5, &[1])), Some(-1e20));
        assert_eq!(numeric_f64(&long(0, 3, &[9007, 1992, 5474, 993])), None);
        assert_eq!(
            numeric_f64(&long(0, 3, &[9007, 1992, 5474, 992])),
            Some(9007199254740992.0)
        );
        // NaN and the infinities, and a scale past 10^22
        assert_eq!(numeric_f64(&short(0xC000, &[])), None);
        assert_eq!(numeric_f64(&long(0, -6, &[1])), None);
        assert_eq!(numeric_f64(&[0x00]), None);
    }

    #[test]
    fn decimals_make_the_numerics_numeric_in_makes() {
        let short = |header: u16, digits: &[i16]| {
            let mut b = header.to_ne_bytes().to_vec();
            digits.iter().for_each(|d| b.extend(d.to_ne_bytes()));
            b
        };
        let made = |t: &str| numeric_bytes(t).unwrap_or_default();
        assert_eq!(made("123.45"), short(0x8000 | 2 << 7, &[123, 4500]));
        assert_eq!(
            made("-0.5"),
            short(0x8000 | 0x2000 | 1 << 7 | 0x7F, &[5000])
        );
        assert_eq!(made("0"), short(0x8000, &[]));
        assert_eq!(made("-0"), short(0x8000, &[]));
        assert_eq!(made("12345678"), short(0x8000 | 1, &[1234, 5678]));
        assert_eq!(made("100000000"), short(0x8000 | 2, &[1]));
        assert_eq!(
            made("0.000001"),
            short(0x8000 | 6 << 7 | 0x40 | 0x3E, &[100])
        );
        // what it makes reads back as the number (where numeric_f64 reads it)
        for t in ["123.45", "-0.5", "9007199254740992", "-1000", "0.000001"] {
            assert_eq!(numeric_f64(&made(t)), t.parse::<f64>().ok(), "{t}");
        }
        for bad in ["", "-", "1.", ".5", "1e5", "1,5", "+1", "NaN", "Infinity"] {
            assert_eq!(numeric_bytes(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_numbers_as_json_stringify_writes_them() {
        // What QuickJS's JSON.stringify gives for each (and V8's); the regression
        // tests compare the two over many more doubles.
        for (n, js) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.5, "1.5"),
            (-2.0, "-2"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123456789.12345679, "123456789.12345679"),
            (1e20, "100000000000000000000"),
            (999999999999999868928.0, "999999999999999900000"),
            (0.000001, "0.000001"),
            (-0.0000012345, "-0.0000012345"),
            (9007199254740993.0, "9007199254740992"),
            (1e16, "10000000000000000"),
            (-1.2345678901234568e16, "-12345678901234568"),
            (1.5e-6, "0.0000015"),
            (1401764202949548.0 + 0.25, "1401764202949548.2"),
            (-971845477362647.0 - 0.25, "-971845477362647.2"),
        ] {
            assert_eq!(json_number(n).as_deref(), Some(js), "{n:e}");
        }
        for n in [
            1e21,
            1e-7,
            5e-324,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(json_number(n), None, "{n:e}");
        }
    }

    #[test]
    fn scalars_encode_as_postgres_reads_them() {
        let s = |a: Arg| encode(&a, &Target::Scalar).unwrap();
        assert_eq!(s(Arg::Null), None);
        assert_eq!(s(Arg::Bool(true)).unwrap(), "true");
        assert_eq!(s(Arg::Number(42.0)).unwrap(), "42");
        assert_eq!(s(Arg::Number(1.5)).unwrap(), "1.5");
        // the sign of -0 goes to Postgres (float4, float8 and their arrays keep it)
        assert_eq!(s(Arg::Number(-0.0)).unwrap(), "-0");
        assert_eq!(s(Arg::Number(0.0)).unwrap(), "0");
        assert_eq!(number(1401764202949548.0 + 0.25), "1401764202949548.2");
        assert_eq!(s(Arg::Number(f64::NAN)).unwrap(), "NaN");
        assert_eq!(s(Arg::Number(f64::NEG_INFINITY)).unwrap(), "-Infinity");
        assert_eq!(
            s(Arg::BigInt("9007199254740993".into())).unwrap(),
            "9007199254740993"
        );
        assert_eq!(s(Arg::Bytes(vec![0, 255, 16])).unwrap(), "\\x00ff10");
        assert_eq!(s(Arg::Json("{\"a\":1}".into())).unwrap(), "{\"a\":1}");
    }

    #[test]
    fn arrays_become_array_literals_or_json() {
        let arr = Arg::Array(
            vec![Arg::Number(1.0), Arg::Null, Arg::Text("a \"b\" \\c".into())],
            "[1,null,\"a\"]".into(),
        );
        let lit = encode(&arr, &Target::Array(Box::new(Target::Scalar)))
            .unwrap()
            .unwrap();
        assert_eq!(lit, "{\"1\",NULL,\"a \\\"b\\\" \\\\c\"}");
        assert_eq!(
            encode(&arr, &Target::Json).unwrap().unwrap(),
            "[1,null,\"a\"]"
        );
        let nested = Arg::Array(
            vec![
                Arg::Array(vec![Arg::Number(1.0), Arg::Number(2.0)], String::new()),
                Arg::Array(vec![Arg::Number(3.0), Arg::Number(4.0)], String::new()),
            ],
            String::new(),
        );
        let lit = encode(&nested, &Target::Array(Box::new(Target::Scalar)))
            .unwrap()
            .unwrap();
        assert_eq!(lit, "{{\"1\",\"2\"},{\"3\",\"4\"}}");
    }

    #[test]
    fn dates_are_iso_utc() {
        assert_eq!(iso_date(0.0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso_date(951_782_400_123.0).unwrap(),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(iso_date(-1.0).unwrap(), "1969-12-31T23:59:59.999Z");
        assert!(iso_date(f64::NAN).is_err());
        let d = encode(&Arg::Date(0.0), &Target::Json).unwrap().unwrap();
        assert_eq!(d, "\"1970-01-01T00:00:00.000Z\"");
    }

    #[test]
    fn dates_of_any_year_are_postgres_input() {
        let t = |a: Arg| encode(&a, &Target::Temporal).unwrap().unwrap();
        assert_eq!(t(Arg::Date(0.0)), "1970-01-01 00:00:00.000+00");
        // 15 March 44 BC (year -43 in JS), and a year of five digits
        assert_eq!(
            t(Arg::Date(-63_517_824_000_000.0)),
            "0044-03-15 00:00:00.000+00 BC"
        );
        assert_eq!(
            t(Arg::Date(253_402_300_800_000.0)),
            "10000-01-01 00:00:00.000+00"
        );
        // year 0 is 1 BC
        assert_eq!(
            t(Arg::Date(-62_167_219_200_000.0)),
            "0001-01-01 00:00:00.000+00 BC"
        );
        assert!(encode(&Arg::Date(f64::INFINITY), &Target::Temporal).is_err());
    }

    #[test]
    fn bytea_takes_only_bytes_or_text() {
        let b = |a: Arg| encode(&a, &Target::Bytea);
        assert_eq!(b(Arg::Bytes(vec![1, 2])).unwrap().unwrap(), "\\x0102");
        assert_eq!(b(Arg::Text("\\x01".into())).unwrap().unwrap(), "\\x01");
        assert_eq!(b(Arg::Null).unwrap(), None);
        for refused in [
            Arg::Array(vec![Arg::Number(1.0)], "[1]".into()),
            Arg::Json("{}".into()),
            Arg::Number(1.0),
            Arg::BigInt("1".into()),
        ] {
            assert!(b(refused).unwrap_err().starts_with("bytea takes"));
        }
        let arr = Target::Array(Box::new(Target::Bytea));
        assert!(encode(&Arg::Array(vec![Arg::Number(1.0)], "[1]".into()), &arr).is_err());
        assert_eq!(
            encode(
                &Arg::Array(vec![Arg::Bytes(vec![255])], String::new()),
                &arr
            )
            .unwrap()
            .unwrap(),
            "{\"\\\\xff\"}"
        );
    }

    #[test]
    fn function_bodies_name_a_script_and_options() {
        let id = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        assert_eq!(
            function_body(&format!(" {id} ")).unwrap(),
            (id.to_string(), ReadOptions::default())
        );
        let (_, read) = function_body(&format!(
            "{id} {{\"exactTimestamps\": true, \"jsonText\": true}}"
        ))
        .unwrap();
        assert!(read.exact_timestamps && read.json_text);
        assert!(function_body("select 1").is_err());
        assert!(function_body(&format!("{id} {{\"nope\": true}}")).is_err());
        assert!(function_body(&format!("{id} {{\"jsonText\": 1}}")).is_err());
        assert!(function_body(&format!("{id} [1]")).is_err());
    }

    #[test]
    fn identifiers_are_quoted_exactly() {
        assert_eq!(quote_ident("Order").unwrap(), "\"Order\"");
        assert_eq!(quote_ident("a\"b").unwrap(), "\"a\"\"b\"");
        assert!(quote_ident("").is_err());
        assert!(quote_ident("a\0b").is_err());
    }

    #[test]
    fn finds_nul_escapes_only() {
        assert!(has_nul_escape(r#""a\u0000b""#));
        assert!(has_nul_escape(r#"{"k":"\\\u0000"}"#));
        assert!(!has_nul_escape(r#""a\\u0000b""#));
        assert!(!has_nul_escape(r#"{"a":1}"#));
    }
}
