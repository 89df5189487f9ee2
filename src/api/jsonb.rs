//! jsonb arguments of the Rust SQL functions, read as serde_json values
//! without pgrx's `JsonB`: that one panics (an internal error, XX000) on a
//! jsonb serde_json cannot read, nested deeper than its recursion limit
//! (128) or holding a number past f64 (1e400), which any caller can pass.
//! This refuses them with 22023 and says why.

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::nullable::Nullable;
use pgrx::{pg_sys, FromDatum};

use crate::error::Error;

/// A jsonb argument.
pub struct JsonArg(pub serde_json::Value);

impl FromDatum for JsonArg {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _typoid: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: the datum is a jsonb (the argument's declared type), detoasted
        // here; jsonb_out returns a palloc'd C string, copied and freed.
        let text = unsafe {
            let detoasted = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
            let out = pgrx::direct_function_call::<&std::ffi::CStr>(
                pg_sys::jsonb_out,
                &[Some(pg_sys::Datum::from(detoasted))],
            );
            let Some(out) = out else {
                Error::Internal("jsonb_out returned NULL".into()).raise()
            };
            let text = out.to_string_lossy().into_owned();
            pg_sys::pfree(out.as_ptr() as *mut std::ffi::c_void);
            text
        };
        match serde_json::from_str(&text) {
            Ok(v) => Some(JsonArg(v)),
            Err(e) => Error::Invalid(format!(
                "a jsonb argument cannot be read ({}): it may nest arrays and objects at most 127 deep, \
                 and its numbers must fit a double precision",
                e.to_string().split(" at line ").next().unwrap_or_default()
            ))
            .raise(),
        }
    }
}

// SAFETY: as pgrx's own impls for its types (argue_from_datum!): the argument is read with FromDatum.
unsafe impl<'fcx> ArgAbi<'fcx> for JsonArg {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the argument is a jsonb, as declared in SQL.
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| {
            Error::Invalid(format!("argument {} must not be null", index + 1)).raise()
        })
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        // SAFETY: the argument is a jsonb, as declared in SQL.
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}

pgrx::impl_sql_translatable!(JsonArg, arg_only = "jsonb");
