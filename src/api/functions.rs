//! `LANGUAGE jsrt`: the call handler and validator Postgres calls for
//! functions and triggers backed by scripts (sql/api.sql declares them; the
//! work is in engine/typed.rs).

use pgrx::pg_sys::{self, Datum};
use pgrx::{ereport, pg_guard, PgSqlErrorCode as Code};

#[no_mangle]
pub extern "C" fn pg_finfo_jsrt_call_handler() -> &'static pg_sys::Pg_finfo_record {
    &super::V1
}

#[no_mangle]
pub extern "C" fn pg_finfo_jsrt_validator() -> &'static pg_sys::Pg_finfo_record {
    &super::V1
}

/// Every call of a `LANGUAGE jsrt` function or trigger.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn jsrt_call_handler(fcinfo: pg_sys::FunctionCallInfo) -> Datum {
    // SAFETY: Postgres calls a language's handler with the fcinfo of the function being called.
    unsafe { crate::engine::typed::call(fcinfo) }
}

/// CREATE FUNCTION ... LANGUAGE jsrt: the body must be a script id, and the
/// shape one the handler can call.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn jsrt_validator(fcinfo: pg_sys::FunctionCallInfo) -> Datum {
    // SAFETY: Postgres calls a validator with one argument, the new function's oid.
    let fn_oid = unsafe {
        let a = (*fcinfo).args.as_slice(1);
        pg_sys::Oid::from(a[0].value.value() as u32)
    };
    let Some(crate::engine::typed::ProcRow {
        body,
        ret,
        args,
        definer,
        retset,
    }) = crate::engine::typed::proc_row(fn_oid)
    else {
        return Datum::from(0);
    };
    if let Err(why) = crate::engine::typed::check_shape(ret, &args, definer, retset, false) {
        ereport!(ERROR, Code::ERRCODE_INVALID_FUNCTION_DEFINITION, why);
    }
    if let Err(why) = crate::engine::convert::function_body(&body) {
        ereport!(
            ERROR,
            Code::ERRCODE_INVALID_FUNCTION_DEFINITION,
            why,
            "Create it with jsrt.create_function(script, signature, options)."
        );
    }
    Datum::from(0)
}
