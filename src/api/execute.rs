use pgrx::prelude::*;

use crate::error::{Error, OrRaise};

/// Behind jsrt.execute(script, input jsonb): JSON travels as text, parsed by
/// Postgres and QuickJS in C at either end.
#[pg_extern(name = "_execute")]
fn execute(script: Option<&str>, input: Option<&str>) -> Option<String> {
    crate::version::ensure();
    let Some(script) = script else {
        Error::Invalid("script must not be null: give a script name or id".into()).raise()
    };
    crate::engine::run::execute_sync(script, input.unwrap_or("{}")).or_raise()
}

#[no_mangle]
pub extern "C" fn pg_finfo_jsrt_execute_object() -> &'static pg_sys::Pg_finfo_record {
    &super::V1
}

#[no_mangle]
pub extern "C" fn pg_finfo_jsrt_execute_support() -> &'static pg_sys::Pg_finfo_record {
    &super::V1
}

/// jsrt._execute_object(script, k1, v1, ...): what `jsrt.execute(script,
/// jsonb_build_object(k1, v1, ...))` is planned as (engine/object_call.rs).
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn jsrt_execute_object(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: Postgres's call of jsrt._execute_object, declared VARIADIC "any" in sql/api.sql.
    unsafe { crate::engine::object_call::call(fcinfo) }
}

/// jsrt.execute's planner support function: a SupportRequestSimplify may
/// become a call of jsrt._execute_object; any other request gets no answer.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn jsrt_execute_support(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: the planner calls a support function with one argument, a request Node.
    unsafe {
        let req = (*fcinfo).args.as_slice(1)[0]
            .value
            .cast_mut_ptr::<pg_sys::Node>();
        if (*req).type_ != pg_sys::NodeTag::T_SupportRequestSimplify {
            return pg_sys::Datum::from(0);
        }
        let req = req.cast::<pg_sys::SupportRequestSimplify>();
        match crate::engine::object_call::simplify((*req).root, (*req).fcall) {
            Some(node) => pg_sys::Datum::from(node),
            None => pg_sys::Datum::from(0),
        }
    }
}
