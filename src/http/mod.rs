//! HTTP for endpoint scripts (issue 6), without Postgres: parsing requests
//! off a connection's bytes, routing them to scripts, and writing responses.
//! The HTTP workers (src/workers/) own the sockets and the SQL.

pub mod keys;
#[allow(dead_code)] // parse() and its limits are for the HTTP workers, still to come
pub mod request;
pub mod response;
pub mod router;
