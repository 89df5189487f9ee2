//! HTTP for endpoint scripts without Postgres: parsing requests
//! off a connection's bytes, routing them to scripts, and writing responses.
//! The HTTP workers (src/workers/) own the sockets and the SQL.

pub mod assets;
pub mod fairq;
pub mod keys;
pub mod park;
pub mod request;
#[cfg(test)]
mod request_fuzz;
pub mod response;
pub mod router;
pub mod wire;

/// Err says what is wrong with a header a script set: the name must be an
/// HTTP token, the value free of line breaks and NUL (no header injection).
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("\"{name}\" is not a header name"));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!("header \"{name}\" holds a line break or NUL"));
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(format!("header \"{name}\" holds a control character"));
    }
    Ok(())
}
