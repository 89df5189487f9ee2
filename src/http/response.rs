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
            // Names and values were checked when the script set them; never let a line break through.
            if name
                .bytes()
                .chain(value.bytes())
                .any(|b| b == b'\r' || b == b'\n')
            {
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
