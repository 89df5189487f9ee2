//! The #[pg_extern] functions, by surface. The rest of the SQL API is in sql/api.sql.
mod admin;
mod execute;
mod scripts;
