//! Responses as bytes: the status line, headers with Content-Length, and the
//! body (left out for HEAD). Error responses carry a small JSON body.

pub struct Response {
    pub status: u16,
    /// as the script set them; Content-Length and Connection are ours
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// `{"error": message}` with `status`, plus `extra` fields.
    pub fn error(status: u16, message: &str, extra: &[(&str, &str)]) -> Response {
        let mut o = serde_json::Map::new();
        o.insert("error".into(), message.into());
        for (k, v) in extra {
            o.insert((*k).into(), (*v).into());
        }
        Response::json(status, &serde_json::Value::Object(o))
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// What a script's output (JSON text; None for undefined) answers:
    /// `{status, headers, body}` as it says, any other value as 200 JSON,
    /// undefined as 204. Err says what is wrong with a `{status, ...}`.
    ///
    /// `headers` is an object (a value may be an array: one line each, as
    /// several Set-Cookie need) or a list of `[name, value]` pairs. `body`
    /// is text (text/plain), JSON (application/json), or with
    /// `bodyEncoding: "base64"` bytes (application/octet-stream), unless the
    /// headers give a Content-Type.
    pub fn from_output(output: Option<&str>) -> Result<Response, String> {
        use serde_json::Value;
        let Some(text) = output else {
            return Ok(Response {
                status: 204,
                headers: vec![],
                body: vec![],
            });
        };
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let shaped = value.as_object().filter(|o| {
            o.contains_key("status")
                && o.keys()
                    .all(|k| matches!(k.as_str(), "status" | "headers" | "body" | "bodyEncoding"))
        });
        let Some(o) = shaped else {
            return Ok(Response::json(200, &value));
        };
        let status = o["status"]
            .as_u64()
            .filter(|s| (200..=599).contains(s))
            .ok_or_else(|| {
                format!(
                    "\"status\" must be a number from 200 to 599, not {}",
                    o["status"]
                )
            })? as u16;
        let mut headers = Vec::new();
        let mut add = |name: &str, v: &Value| -> Result<(), String> {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(format!("header \"{name}\" must be a string")),
            };
            super::check_header(name, &value)?;
            headers.push((name.to_ascii_lowercase(), value));
            Ok(())
        };
        match o.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(h)) => {
                for (name, v) in h {
                    match v {
                        Value::Array(values) => {
                            for v in values {
                                add(name, v)?;
                            }
                        }
                        v => add(name, v)?,
                    }
                }
            }
            Some(Value::Array(pairs)) => {
                for (i, pair) in pairs.iter().enumerate() {
                    match pair.as_array().map(Vec::as_slice) {
                        Some([Value::String(name), v]) => add(name, v)?,
                        _ => {
                            return Err(format!(
                                "\"headers\"[{i}] must be a [name, value] pair of strings"
                            ))
                        }
                    }
                }
            }
            Some(_) => {
                return Err("\"headers\" must be an object or a list of [name, value] pairs".into())
            }
        }
        let mut typed = |t: &str| {
            if !headers.iter().any(|(n, _)| n == "content-type") {
                headers.push(("content-type".into(), t.into()));
            }
        };
        let body = match (o.get("body"), o.get("bodyEncoding")) {
            (Some(Value::String(s)), Some(Value::String(e))) if e == "base64" => {
                use base64::Engine as _;
                typed("application/octet-stream");
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| format!("\"body\" is not valid base64: {e}"))?
            }
            (_, Some(e)) if !e.is_null() => {
                return Err(format!(
                    "\"bodyEncoding\" must be \"base64\" with a string body, not {e}"
                ))
            }
            (None | Some(Value::Null), _) => Vec::new(),
            (Some(Value::String(s)), _) => {
                typed("text/plain; charset=utf-8");
                s.clone().into_bytes()
            }
            (Some(v), _) => {
                typed("application/json");
                v.to_string().into_bytes()
            }
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// The bytes to send. `head` leaves the body out but keeps its length.
    pub fn to_bytes(&self, head: bool, keep_alive: bool) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).into_bytes();
        for (name, value) in &self.headers {
            if ["content-length", "connection", "transfer-encoding"]
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h))
            {
                continue;
            }
            // Checked when the script set them already; never let a line break through.
            if super::check_header(name, value).is_err() {
                continue;
            }
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        let no_body = matches!(self.status, 100..=199 | 204 | 304);
        if !no_body {
            out.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(if keep_alive {
            b"connection: keep-alive\r\n\r\n"
        } else {
            b"connection: close\r\n\r\n"
        });
        if !head && !no_body {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_status_headers_and_body() {
        let r = Response {
            status: 201,
            headers: vec![
                ("x-id".into(), "7".into()),
                ("Content-Length".into(), "999".into()),
                ("x-bad".into(), "a\r\nset-cookie: evil".into()),
            ],
            body: b"done".to_vec(),
        };
        assert_eq!(
            String::from_utf8(r.to_bytes(false, true)).unwrap(),
            "HTTP/1.1 201 Created\r\nx-id: 7\r\ncontent-length: 4\r\nconnection: keep-alive\r\n\r\ndone"
        );
        assert!(String::from_utf8(r.to_bytes(true, false))
            .unwrap()
            .ends_with("content-length: 4\r\nconnection: close\r\n\r\n"));
    }

    #[test]
    fn script_outputs_become_responses() {
        let r = Response::from_output(Some(
            r#"{"status": 201, "headers": {"X-Id": "7", "Location": "/o/7"}, "body": {"id": 7}}"#,
        ))
        .unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(
            r.headers,
            vec![
                ("location".into(), "/o/7".into()),
                ("x-id".into(), "7".into()),
                ("content-type".into(), "application/json".into())
            ]
        );
        assert_eq!(r.body, br#"{"id":7}"#);
        let text = Response::from_output(Some(r#"{"status": 200, "body": "hi"}"#)).unwrap();
        assert_eq!(
            text.headers,
            vec![("content-type".into(), "text/plain; charset=utf-8".into())]
        );
        // any other value is 200 JSON, undefined is 204
        let plain = Response::from_output(Some(r#"{"status": "ok", "n": 1}"#)).unwrap();
        assert_eq!(
            (plain.status, plain.body.as_slice()),
            (200, br#"{"n":1,"status":"ok"}"#.as_slice())
        );
        assert_eq!(Response::from_output(Some("[1,2]")).unwrap().status, 200);
        assert_eq!(Response::from_output(None).unwrap().status, 204);
        for bad in [
            r#"{"status": 99}"#,
            r#"{"status": 200, "headers": {"a b": "x"}}"#,
            r#"{"status": 200, "headers": {"x": "a\r\nb"}}"#,
            r#"{"status": 200, "headers": "x"}"#,
            r#"{"status": 200, "headers": [["x"]]}"#,
            r#"{"status": 200, "headers": {"set-cookie": ["a=1", "b\r\nx: y"]}}"#,
            r#"{"status": 200, "headers": [["x y", "1"]]}"#,
            r#"{"status": 200, "body": "!!", "bodyEncoding": "base64"}"#,
            r#"{"status": 200, "body": "aGk=", "bodyEncoding": "hex"}"#,
        ] {
            assert!(Response::from_output(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn repeated_headers_and_byte_bodies() {
        let r = Response::from_output(Some(
            r#"{"status": 200, "headers": {"Set-Cookie": ["a=1", "b=2"]}, "body": "AP8=", "bodyEncoding": "base64"}"#,
        ))
        .unwrap();
        assert_eq!(
            r.headers,
            vec![
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
                ("content-type".into(), "application/octet-stream".into())
            ]
        );
        assert_eq!(r.body, vec![0x00, 0xff]);
        let text = String::from_utf8_lossy(&r.to_bytes(false, false)).into_owned();
        assert!(
            text.contains("set-cookie: a=1\r\nset-cookie: b=2\r\n"),
            "{text}"
        );
        let pairs = Response::from_output(Some(
            r#"{"status": 200, "headers": [["Set-Cookie", "a=1"], ["set-cookie", "b=2"], ["Content-Type", "image/png"]], "body": "AA==", "bodyEncoding": "base64"}"#,
        ))
        .unwrap();
        assert_eq!(pairs.headers.len(), 3);
        assert_eq!(
            pairs.headers[2],
            ("content-type".into(), "image/png".into())
        );
        assert_eq!(pairs.body, vec![0]);
    }

    #[test]
    fn errors_are_json() {
        let r = Response::error(500, "the script failed", &[("execution_id", "abc")]);
        assert_eq!(
            r.body,
            br#"{"error":"the script failed","execution_id":"abc"}"#
        );
        let no_content = Response {
            status: 204,
            headers: vec![],
            body: b"x".to_vec(),
        };
        assert!(!String::from_utf8(no_content.to_bytes(false, true))
            .unwrap()
            .contains("content-length"));
    }
}
