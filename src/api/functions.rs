//! `LANGUAGE jsrt`: the call handler and validator Postgres calls for
//! functions and triggers backed by scripts (sql/api.sql declares them; the
//! work is in engine/typed.rs).

use pgrx::pg_sys::{self, Datum};
use pgrx::{ereport, pg_guard, PgSqlErrorCode as Code};

/// Version-1 calling convention, as PG_FUNCTION_INFO_V1 declares it.
static V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };

#[no_mangle]
pub extern "C" fn pg_finfo_jsrt_call_handler() -> &'static pg_sys::Pg_finfo_record {
    &V1
}

#[no_mangle]
pub extern "C" fn pg_finfo_jsrt_validator() -> &'static pg_sys::Pg_finfo_record {
    &V1
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
    // SAFETY: a syscache lookup inside the creating transaction; values are copied out before release.
    let found = unsafe {
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::PROCOID as _,
            Datum::from(fn_oid),
        );
        if tuple.is_null() {
            return Datum::from(0);
        }
        let form = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_proc>(tuple);
        let n = (*form).pronargs as usize;
        let args = (*form).proargtypes.values.as_slice(n).to_vec();
        let mut isnull = false;
        let src = pg_sys::SysCacheGetAttr(
            pg_sys::SysCacheIdentifier::PROCOID as _,
            tuple,
            pg_sys::Anum_pg_proc_prosrc as _,
            &mut isnull,
        );
        let body = if isnull {
            String::new()
        } else {
            let c = pg_sys::text_to_cstring(src.cast_mut_ptr());
            let s = std::ffi::CStr::from_ptr(c)
                .to_string_lossy()
                .trim()
                .to_string();
            pg_sys::pfree(c.cast());
            s
        };
        let out = (
            (*form).prorettype,
            args,
            (*form).prosecdef,
            (*form).proretset,
            body,
        );
        pg_sys::ReleaseSysCache(tuple);
        out
    };
    let (ret, args, definer, retset, body) = found;
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
