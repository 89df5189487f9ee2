//! RFC 9457 problem details (`application/problem+json`) for the management
//! API, and the one mapping from a SQLSTATE to an HTTP status. Pure.

use serde_json::{Map, Value};

use crate::http::response::{reason, Response};

/// What went wrong with a request (boxed: handlers return it in every Err).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem(Box<Details>);

impl std::ops::Deref for Problem {
    type Target = Details;
    fn deref(&self) -> &Details {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut Details {
        &mut self.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    pub status: u16,
    pub detail: String,
    pub sqlstate: Option<String>,
    /// the request field at fault (`field "x"` in the SQL error's detail)
    pub field: Option<String>,
    /// where in a script's source (a compile or run error)
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// a JSON pointer into the request body
    pub pointer: Option<String>,
    pub hint: Option<String>,
    /// more members of the problem object
    pub extra: Map<String, Value>,
    pub headers: Vec<(String, String)>,
}

impl Problem {
    pub fn new(status: u16, detail: impl Into<String>) -> Problem {
        Problem(Box::new(Details {
            status,
            detail: detail.into(),
            sqlstate: None,
            field: None,
            line: None,
            column: None,
            pointer: None,
            hint: None,
            extra: Map::new(),
            headers: Vec::new(),
        }))
    }

    /// A malformed request: 400.
    pub fn bad(detail: impl Into<String>) -> Problem {
        Problem::new(400, detail)
    }

    pub fn with_field(mut self, field: &str) -> Problem {
        self.field = Some(field.to_string());
        self
    }

    pub fn with(mut self, key: &str, value: Value) -> Problem {
        self.extra.insert(key.to_string(), value);
        self
    }

    /// A Postgres error: the status its SQLSTATE maps to, the field named in
    /// its message or detail, and the line and column of a script error.
    pub fn from_sql(
        sqlstate: &str,
        message: &str,
        detail: Option<&str>,
        hint: Option<&str>,
    ) -> Problem {
        let mut p = Problem::new(status_for(sqlstate), message);
        p.sqlstate = Some(sqlstate.to_string());
        p.field = detail
            .and_then(field_in)
            .or_else(|| field_in(message))
            .or_else(|| detail.and_then(argument_in))
            .or_else(|| argument_in(message));
        p.pointer = detail.and_then(pointer_in);
        if let Some((l, c)) = place_in(message) {
            p.line = Some(l);
            p.column = Some(c);
        }
        p.hint = hint.map(str::to_string);
        if let Some(d) = detail {
            // A JS stack is the script author's to read; other details explain the field.
            p.extra.insert("sql_detail".into(), d.into());
        }
        p
    }

    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("type".into(), "about:blank".into());
        o.insert("title".into(), reason(self.status).into());
        o.insert("status".into(), self.status.into());
        o.insert("detail".into(), self.detail.clone().into());
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                o.insert(k.into(), v);
            }
        };
        put("sqlstate", self.sqlstate.clone().map(Value::from));
        put("field", self.field.clone().map(Value::from));
        put("line", self.line.map(Value::from));
        put("column", self.column.map(Value::from));
        put("pointer", self.pointer.clone().map(Value::from));
        put("hint", self.hint.clone().map(Value::from));
        for (k, v) in &self.extra {
            o.insert(k.clone(), v.clone());
        }
        Value::Object(o)
    }

    pub fn to_response(&self) -> Response {
        let mut headers = vec![(
            "content-type".to_string(),
            "application/problem+json".to_string(),
        )];
        if self.status == 401 {
            headers.push(("www-authenticate".into(), "Bearer".into()));
        }
        if matches!(self.status, 429 | 503) && !self.headers.iter().any(|h| h.0 == "retry-after") {
            headers.push(("retry-after".into(), "1".into()));
        }
        headers.extend(self.headers.iter().cloned());
        Response {
            status: self.status,
            headers,
            body: self.to_json().to_string().into_bytes(),
        }
    }
}

/// The HTTP status of a SQLSTATE, the same for every route.
pub fn status_for(sqlstate: &str) -> u16 {
    let class = sqlstate.get(..2).unwrap_or("");
    match sqlstate {
        // insufficient_privilege, and the extension's Forbidden
        "42501" => 403,
        // undefined_object (no such script, tenant, execution), undefined_function
        "42704" | "42883" | "P0002" => 404,
        // unique_violation, duplicate_object (a clashing route), an impossible status change
        "23505" | "42710" | "55000" | "55P03" => 409,
        // serialization failure, deadlock: the client may try again
        "40001" | "40P01" => 409,
        // a script over its max_concurrent_runs, a tenant at its cap
        "53400" => 503,
        // a rate limit (configuration_limit_exceeded is 53400; quotas say 54000 with "per minute")
        "57014" | "57P01" | "57P03" => 503,
        // the script does not compile
        "42601" => 422,
        _ => match class {
            "22" | "23" | "54" | "2F" => 422,
            "28" => 401,
            "53" | "08" => 503,
            _ => 500,
        },
    }
}

/// `field "name"` in a message or detail.
fn field_in(text: &str) -> Option<String> {
    let at = text.find("field \"")? + "field \"".len();
    let end = text[at..].find('"')?;
    Some(text[at..at + end].to_string()).filter(|f| !f.is_empty())
}

/// `pointer "/a/0"`: where in the input a value was refused.
fn pointer_in(text: &str) -> Option<String> {
    let at = text.find("pointer \"")? + "pointer \"".len();
    let end = text[at..].find('"')?;
    Some(text[at..at + end].to_string())
}

/// `argument "input"`, as some SQL functions name their parameter.
fn argument_in(text: &str) -> Option<String> {
    let at = text.find("argument \"")? + "argument \"".len();
    let end = text[at..].find('"')?;
    Some(text[at..at + end].to_string()).filter(|f| !f.is_empty())
}

/// `(line L:C)` at the end of a script error's summary.
fn place_in(message: &str) -> Option<(u32, u32)> {
    let at = message.rfind("(line ")? + "(line ".len();
    let end = message[at..].find(')')?;
    let (l, c) = message[at..at + end].split_once(':')?;
    Some((l.trim().parse().ok()?, c.trim().parse().ok()?))
}

/// The response of a method that is not allowed at a path.
pub fn wrong_method(method: &str, allow: &[&str]) -> Response {
    let mut p = Problem::new(405, format!("{method} is not allowed here"));
    p.headers.push(("allow".into(), allow.join(", ")));
    p.to_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_consistent() {
        assert_eq!(status_for("42501"), 403);
        assert_eq!(status_for("42704"), 404);
        assert_eq!(status_for("23505"), 409);
        assert_eq!(status_for("42710"), 409);
        assert_eq!(status_for("55000"), 409);
        assert_eq!(status_for("22023"), 422);
        assert_eq!(status_for("22P02"), 422);
        assert_eq!(status_for("23514"), 422);
        assert_eq!(status_for("54000"), 422);
        assert_eq!(status_for("42601"), 422);
        assert_eq!(status_for("53400"), 503);
        assert_eq!(status_for("57014"), 503);
        assert_eq!(status_for("XX000"), 500);
    }

    #[test]
    fn sql_errors_name_field_and_place() {
        let p = Problem::from_sql(
            "22023",
            "unknown time zone \"Mars/Base\"",
            Some("field \"timezone\""),
            None,
        );
        assert_eq!((p.status, p.field.as_deref()), (422, Some("timezone")));
        let p = Problem::from_sql(
            "42601",
            "script \"a\" does not compile: SyntaxError: unexpected token (line 3:14)",
            None,
            None,
        );
        assert_eq!((p.line, p.column), (Some(3), Some(14)));
        let j = p.to_json();
        assert_eq!(j["status"], 422);
        assert_eq!(j["sqlstate"], "42601");
        assert_eq!(j["title"], "Unprocessable Content");
        let p = Problem::from_sql(
            "22023",
            "input must not be null",
            Some("argument \"input\""),
            None,
        );
        assert_eq!(p.field.as_deref(), Some("input"));
        let p = Problem::from_sql(
            "22023",
            "the input does not fit",
            Some("field \"input\", pointer \"/items/1\""),
            None,
        );
        assert_eq!(
            (p.status, p.field.as_deref(), p.pointer.as_deref()),
            (422, Some("input"), Some("/items/1"))
        );
    }

    #[test]
    fn response_is_problem_json() {
        let r = Problem::new(401, "no key").to_response();
        assert_eq!(r.status, 401);
        assert!(r
            .headers
            .iter()
            .any(|h| h == &("content-type".into(), "application/problem+json".into())));
        assert!(r.headers.iter().any(|h| h.0 == "www-authenticate"));
        let r = Problem::new(503, "busy").to_response();
        assert!(r.headers.iter().any(|h| h.0 == "retry-after"));
        let r = wrong_method("PUT", &["GET", "PATCH"]);
        assert_eq!(r.status, 405);
        assert!(r
            .headers
            .iter()
            .any(|h| h == &("allow".into(), "GET, PATCH".into())));
    }
}
