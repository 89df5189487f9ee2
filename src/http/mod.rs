//! HTTP for endpoint scripts without Postgres: parsing requests
//! off a connection's bytes, routing them to scripts, and writing responses.
//! The HTTP workers (src/workers/) own the sockets and the SQL.

pub mod keys;
pub mod request;
pub mod response;
pub mod router;
