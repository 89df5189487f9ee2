//! `jsrt.execute(script, jsonb_build_object(k1, v1, ...))` without the jsonb
//! in between. The planner support function of `jsrt.execute` (`simplify`)
//! rewrites such a call, when every key is a text constant and every value
//! of a type below, into `jsrt._execute_object(script, k1, v1, ...)`. Each
//! call of that (`call`) gives the script, as `ctx.input`, the object that
//! `JSON.parse(jsonb_build_object(...)::text)` gives, made straight from the
//! arguments. The jsonb is built (by jsonb_build_object itself) only where
//! its text is needed: an input schema to check, a history record. The run
//! is otherwise `jsrt.execute`'s: the same resolution, places, ctx and record.

use std::cell::{OnceCell, RefCell};
use std::ffi::CStr;

use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::{ereport, PgMemoryContexts, PgSqlErrorCode as Code};
use rquickjs::{Ctx, Value};

use super::run;
use super::sandbox::{define, BuiltInput, Kept, Make, Names, Shapes};
use super::sql;
use crate::error::OrRaise;
use crate::nodes::{elements, node_as};

/// A value's type, as jsonb_build_object makes it a JSON value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    /// a JSON number, or the string "NaN", "Infinity" or "-Infinity"
    Numeric,
    Text,
    /// an untyped literal ('abc' given as "any"): a C string
    Literal,
}

fn kind(t: Oid) -> Option<Kind> {
    Some(match t {
        pg_sys::BOOLOID => Kind::Bool,
        pg_sys::INT2OID => Kind::Int2,
        pg_sys::INT4OID => Kind::Int4,
        pg_sys::INT8OID => Kind::Int8,
        pg_sys::NUMERICOID => Kind::Numeric,
        pg_sys::TEXTOID | pg_sys::VARCHAROID => Kind::Text,
        pg_sys::UNKNOWNOID => Kind::Literal,
        _ => return None,
    })
}

/// The order jsonb keeps an object's keys in, as indexes into `keys`:
/// shorter keys first, keys of one length by their bytes; of a key given
/// more than once, its last value.
pub fn jsonb_key_order(keys: &[&[u8]]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    // Of equal keys, the one given last sorts first, and dedup keeps it.
    order.sort_by(|&a, &b| {
        (keys[a].len(), keys[a])
            .cmp(&(keys[b].len(), keys[b]))
            .then(b.cmp(&a))
    });
    order.dedup_by(|next, kept| keys[*next] == keys[*kept]);
    order
}

/// A text constant's value, if `e` is one (not null): a text or an
/// untyped literal.
///
/// # Safety
/// `e` is a valid Node.
unsafe fn text_const(e: *mut pg_sys::Node) -> Option<&'static [u8]> {
    // SAFETY: the caller's node; a text Const's value is a text datum, an untyped one's a
    // C string, alive with the expression.
    unsafe {
        let c = node_as::<pg_sys::Const>(e, pg_sys::NodeTag::T_Const)?;
        if (*c).constisnull {
            return None;
        }
        match (*c).consttype {
            pg_sys::TEXTOID => Some(sql::bytes_of((*c).constvalue)),
            pg_sys::UNKNOWNOID => Some(CStr::from_ptr((*c).constvalue.cast_mut_ptr()).to_bytes()),
            _ => None,
        }
    }
}

/// The keys and value kinds of jsonb_build_object's arguments `pairs`, when
/// they may go to `_execute_object` instead: key and value pairs, each key a
/// text constant and each value of a kind, in a UTF-8 database; and, with
/// the script in front, no more arguments than a call may take (50 pairs
/// would be one too many).
///
/// # Safety
/// `pairs` are valid expression nodes.
unsafe fn pairs(pairs: &[pg_sys::ListCell]) -> Option<(Vec<&'static [u8]>, Vec<Kind>)> {
    // SAFETY: the caller's nodes, only read; the database encoding is a plain read.
    unsafe {
        if !pairs.len().is_multiple_of(2)
            || pairs.len() >= pg_sys::FUNC_MAX_ARGS as usize
            || pg_sys::GetDatabaseEncoding() != pg_sys::pg_enc::PG_UTF8 as i32
        {
            return None;
        }
        let mut keys = Vec::with_capacity(pairs.len() / 2);
        let mut kinds = Vec::with_capacity(pairs.len() / 2);
        for pair in pairs.chunks(2) {
            keys.push(text_const(pair[0].ptr_value.cast())?);
            kinds.push(kind(pg_sys::exprType(pair[1].ptr_value.cast()))?);
        }
        Some((keys, kinds))
    }
}

/// `jsrt.execute(script, jsonb_build_object(...))` as a call of
/// `_execute_object` when it can be one, else None (the call stays as it is).
///
/// # Safety
/// `fcall` is the planner's FuncExpr of a call of `jsrt.execute`, in planning;
/// `root` is null or the planner's PlannerInfo for it.
pub unsafe fn simplify(
    root: *mut pg_sys::PlannerInfo,
    fcall: *mut pg_sys::FuncExpr,
) -> Option<*mut pg_sys::Node> {
    // SAFETY: the planner's expression tree, read and copied in its memory context.
    unsafe {
        let [script, input] = elements((*fcall).args) else {
            return None;
        };
        let build =
            node_as::<pg_sys::FuncExpr>(input.ptr_value.cast(), pg_sys::NodeTag::T_FuncExpr)?;
        if (*build).funcid != Oid::from(pg_sys::F_JSONB_BUILD_OBJECT_ANY) || (*build).funcvariadic {
            return None;
        }
        pairs(elements((*build).args))?;
        // As inlining does: a caller who may not run both keeps the call that says so.
        let target = execute_object_oid((*fcall).funcid)?;
        let may = |f| {
            pg_sys::pg_proc_aclcheck(f, pg_sys::GetUserId(), pg_sys::ACL_EXECUTE as _)
                == pg_sys::AclResult::ACLCHECK_OK
        };
        if !may((*fcall).funcid) || !may(target) {
            return None;
        }
        // The rewrite holds for this role only: a cached plan is made again for another
        // (a PL/pgSQL function or prepared statement run after SET ROLE or by a definer).
        if !root.is_null() && !(*root).glob.is_null() {
            (*(*root).glob).dependsOnRole = true;
        }
        let args = pg_sys::lcons(script.ptr_value, pg_sys::list_copy((*build).args));
        let call = pg_sys::makeFuncExpr(
            target,
            pg_sys::JSONBOID,
            args,
            pg_sys::InvalidOid,
            (*fcall).inputcollid,
            pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
        );
        (*call).location = (*fcall).location;
        Some(call.cast())
    }
}

/// `_execute_object(text, VARIADIC "any")` in the schema of `execute`
/// (jsrt.execute): a catalog lookup by name, types and schema, with no
/// search_path and no right on the schema needed.
unsafe fn execute_object_oid(execute: Oid) -> Option<Oid> {
    // SAFETY: catalog lookups in planning; the key vector is made in the current memory context.
    unsafe {
        let types = [pg_sys::TEXTOID, pg_sys::ANYOID];
        let oid = pg_sys::GetSysCacheOid(
            pg_sys::SysCacheIdentifier::PROCNAMEARGSNSP as i32,
            pg_sys::Anum_pg_proc_oid as i16,
            Datum::from(c"_execute_object".as_ptr()),
            Datum::from(pg_sys::buildoidvector(types.as_ptr(), 2)),
            Datum::from(pg_sys::get_func_namespace(execute)),
            Datum::from(0),
        );
        (oid != pg_sys::InvalidOid).then_some(oid)
    }
}

/// What a call site of `_execute_object` keeps between calls.
struct Site {
    /// the input's properties in jsonb's order: key, argument index, kind
    props: Vec<(String, usize, Kind)>,
    /// what the loaded script keeps the input's shapes under
    stamp: u64,
    /// the keys as atoms of the runtime of this uid (`Names`)
    atoms: RefCell<(Option<u64>, Vec<rquickjs::qjs::JSAtom>)>,
    /// jsonb_build_object, called with this site's keys and values, for the
    /// input's JSON text (a cell: the function is given it as a mutable pointer)
    build: std::cell::UnsafeCell<pg_sys::FmgrInfo>,
    /// the script, and its places held for the statement
    script: RefCell<run::SiteScript>,
}

fn raise(code: Code, message: String) -> ! {
    ereport!(ERROR, code, message);
}

/// Reads the call's keys and value types once per call site.
///
/// # Safety
/// `flinfo` is the FmgrInfo of a call of `_execute_object`.
unsafe fn site(flinfo: *mut pg_sys::FmgrInfo) -> Site {
    let misuse = || {
        raise(
            Code::ERRCODE_FEATURE_NOT_SUPPORTED,
            "jsrt._execute_object is called by jsrt.execute(script, jsonb_build_object(...)) only: \
             use jsrt.execute"
                .into(),
        )
    };
    // SAFETY: the caller's flinfo; its expression is the call, its arguments valid nodes.
    unsafe {
        let Some(call) =
            node_as::<pg_sys::FuncExpr>((*flinfo).fn_expr, pg_sys::NodeTag::T_FuncExpr)
        else {
            misuse()
        };
        // The same arguments the planner rewrites, checked again: a direct call may give others.
        let Some((keys, kinds)) = elements((*call).args)
            .split_first()
            .and_then(|(_, p)| pairs(p))
        else {
            misuse()
        };
        let props = jsonb_key_order(&keys)
            .into_iter()
            .map(|i| {
                (
                    String::from_utf8_lossy(keys[i]).into_owned(),
                    2 + 2 * i,
                    kinds[i],
                )
            })
            .collect();
        // jsonb_build_object over the same keys and values, for its JSON text.
        let mcxt = (*flinfo).fn_mcxt;
        let old = pg_sys::MemoryContextSwitchTo(mcxt);
        let build_expr = pg_sys::makeFuncExpr(
            Oid::from(pg_sys::F_JSONB_BUILD_OBJECT_ANY),
            pg_sys::JSONBOID,
            pg_sys::list_copy_tail((*call).args, 1),
            pg_sys::InvalidOid,
            (*call).inputcollid,
            pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
        );
        pg_sys::MemoryContextSwitchTo(old);
        let mut build = pg_sys::FmgrInfo::default();
        pg_sys::fmgr_info_cxt(
            Oid::from(pg_sys::F_JSONB_BUILD_OBJECT_ANY),
            &mut build,
            mcxt,
        );
        build.fn_expr = build_expr.cast();
        Site {
            props,
            stamp: Shapes::stamp(),
            atoms: Default::default(),
            build: std::cell::UnsafeCell::new(build),
            script: Default::default(),
        }
    }
}

/// One call's input.
struct Input<'a> {
    given: &'a [pg_sys::NullableDatum],
    site: &'a Site,
}

impl Input<'_> {
    /// `jsonb_build_object(k1, v1, ...)::text` for these arguments.
    fn json(&self) -> String {
        let n = self.given.len() - 1;
        // SAFETY: a call of jsonb_build_object through its FmgrInfo, whose expression gives
        // the arguments' types; the fcinfo is sized for n arguments and lives for the call.
        unsafe {
            let size = std::mem::size_of::<pg_sys::FunctionCallInfoBaseData>()
                + n * std::mem::size_of::<pg_sys::NullableDatum>();
            let fcinfo = pg_sys::palloc0(size).cast::<pg_sys::FunctionCallInfoBaseData>();
            (*fcinfo).flinfo = self.site.build.get();
            (*fcinfo).nargs = n as i16;
            (*fcinfo).fncollation = pg_sys::InvalidOid;
            let args = (*fcinfo).args.as_mut_slice(n);
            args.copy_from_slice(&self.given[1..]);
            let f = (*self.site.build.get()).fn_addr.unwrap_or_else(|| {
                raise(
                    Code::ERRCODE_INTERNAL_ERROR,
                    "jsonb_build_object has no address".into(),
                )
            });
            // jsonb_build_object may raise an ERROR (a string or an object past jsonb's size
            // limits): through the guard, as a Rust panic, not a longjmp over these frames.
            let jsonb = pg_sys::ffi::pg_guard_ffi_boundary(|| f(fcinfo));
            pg_sys::pfree(fcinfo.cast());
            sql::output(pg_sys::F_JSONB_OUT.into(), jsonb)
        }
    }

    /// The bytes of the input's text values, as stored before any compression.
    fn text_bytes(&self) -> usize {
        let mut sum = 0;
        for (_, i, kind) in &self.site.props {
            let a = &self.given[*i];
            if a.isnull {
                continue;
            }
            // SAFETY: the call's argument, of the type its kind was read from: a varlena for
            // Text, a C string for Literal. A compressed or out-of-line one is asked its size,
            // not detoasted; any other is read in place.
            sum += unsafe {
                match kind {
                    Kind::Text => {
                        let v = a.value.cast_mut_ptr::<pg_sys::varlena>();
                        if pgrx::varlena::varatt_is_4b_c(v) || pgrx::varlena::varatt_is_1b_e(v) {
                            pg_sys::toast_raw_datum_size(a.value)
                        } else {
                            pgrx::varlena::varsize_any(v)
                        }
                    }
                    Kind::Literal => CStr::from_ptr(a.value.cast_mut_ptr()).count_bytes(),
                    _ => 0,
                }
            };
        }
        sum
    }
}

/// Input text past this is made as jsonb before the run, as jsrt.execute's
/// argument would be: jsonb refuses a string or an object past 256 MB
/// (JENTRY_OFFLENMASK), and the run must not start where it would.
const BUILD_FIRST_BYTES: usize = 128 << 20;

impl BuiltInput for Input<'_> {
    fn object<'js>(
        &self,
        ctx: &Ctx<'js>,
        names: &Names<'_>,
        kept: &Kept,
    ) -> rquickjs::Result<Value<'js>> {
        let mut atoms = self.site.atoms.borrow_mut();
        if atoms.0 != Some(names.uid) {
            let keys = self.site.props.iter().map(|(key, ..)| names.atom(ctx, key));
            *atoms = (Some(names.uid), keys.collect::<rquickjs::Result<_>>()?);
        }
        kept.shapes
            .keep(ctx, self.site.stamp, &atoms.1, Make::Plain)?;
        // Property by property, as JSON.parse makes it: no list of them per call.
        let o = rquickjs::Object::new(ctx.clone())?;
        for ((_, i, kind), atom) in self.site.props.iter().zip(&atoms.1) {
            let a = &self.given[*i];
            let v = if a.isnull {
                Value::new_null(ctx.clone())
            } else {
                // SAFETY: the call's argument, of the type its kind was read from.
                unsafe { value(ctx, a.value, *kind)? }
            };
            define(ctx, &o, *atom, &v)?;
        }
        Ok(o.into_value())
    }

    fn bytes(&self) -> usize {
        self.text_bytes()
    }
}

/// `d` as `JSON.parse` reads it after jsonb_build_object made it JSON.
///
/// # Safety
/// `d` is a non-null datum of a type of kind `kind`, alive during the call.
unsafe fn value<'js>(ctx: &Ctx<'js>, d: Datum, kind: Kind) -> rquickjs::Result<Value<'js>> {
    Ok(match kind {
        Kind::Bool => Value::new_bool(ctx.clone(), d.value() != 0),
        Kind::Int2 => Value::new_int(ctx.clone(), d.value() as i16 as i32),
        Kind::Int4 => Value::new_int(ctx.clone(), d.value() as i32),
        // A JSON number past 2^53 reads as the nearest double, as the integer converts.
        Kind::Int8 => number(ctx, d.value() as i64 as f64),
        // SAFETY: the caller's numeric datum, read in place.
        Kind::Numeric => match super::convert::numeric_f64(unsafe { sql::bytes_of(d) }) {
            Some(f) => number(ctx, f),
            None => numeric_text(ctx, d)?,
        },
        // SAFETY: the caller's text datum, read in place.
        Kind::Text => string(ctx, unsafe { sql::bytes_of(d) })?,
        // SAFETY: the caller's C string.
        Kind::Literal => string(ctx, unsafe { CStr::from_ptr(d.cast_mut_ptr()) }.to_bytes())?,
    })
}

/// A numeric as JSON.parse reads numeric_out's text: a number, or the
/// string "NaN", "Infinity" or "-Infinity" (jsonb keeps them as strings).
fn numeric_text<'js>(ctx: &Ctx<'js>, d: Datum) -> rquickjs::Result<Value<'js>> {
    // SAFETY: the caller's numeric datum, and numeric's output function.
    let text = unsafe { sql::output(pg_sys::F_NUMERIC_OUT.into(), d) };
    Ok(match text.parse::<f64>() {
        // jsonb keeps NaN and the infinities as strings; Rust reads them as numbers.
        Ok(f) if f.is_finite() || !text.bytes().any(|b| b.is_ascii_alphabetic()) => number(ctx, f),
        _ => rquickjs::String::from_str(ctx.clone(), &text)?.into_value(),
    })
}

fn string<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> rquickjs::Result<Value<'js>> {
    let s = String::from_utf8_lossy(bytes);
    Ok(rquickjs::String::from_str(ctx.clone(), &s)?.into_value())
}

/// A JSON number as JSON.parse makes it: an int where it is one.
fn number<'js>(ctx: &Ctx<'js>, f: f64) -> Value<'js> {
    if f.fract() == 0.0 && f.abs() <= i32::MAX as f64 && !(f == 0.0 && f.is_sign_negative()) {
        Value::new_int(ctx.clone(), f as i32)
    } else {
        Value::new_float(ctx.clone(), f)
    }
}

/// One call of `jsrt._execute_object(script, k1, v1, ...)`.
///
/// # Safety
/// `fcinfo` is Postgres's call of `_execute_object`.
pub unsafe fn call(fcinfo: pg_sys::FunctionCallInfo) -> Datum {
    crate::version::ensure();
    // SAFETY: the caller's contract: fcinfo and its flinfo are valid for the call.
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        if (*flinfo).fn_extra.is_null() {
            let site = site(flinfo);
            (*flinfo).fn_extra = PgMemoryContexts::For((*flinfo).fn_mcxt)
                .leak_and_drop_on_delete(site)
                .cast();
        }
        let site = &*(*flinfo).fn_extra.cast::<Site>();
        let given = (*fcinfo).args.as_slice((*fcinfo).nargs as usize);
        if given[0].isnull {
            raise(
                Code::ERRCODE_INVALID_PARAMETER_VALUE,
                "script must not be null: give a script name or id".into(),
            );
        }
        let key = String::from_utf8_lossy(sql::bytes_of(given[0].value));
        let script = site.script.borrow_mut().get(&key).or_raise();
        let input = Input { given, site };
        let json = OnceCell::new();
        if input.text_bytes() > BUILD_FIRST_BYTES {
            json.get_or_init(|| input.json());
        }
        let output = run::execute_built(&script, &input, &json, &|| input.json()).or_raise();
        let Some(output) = output else {
            (*fcinfo).isnull = true;
            return Datum::from(0);
        };
        if let Some(bytes) = super::convert::numeric_bytes(&output) {
            // A number (the sandbox writes it with no exponent): the jsonb
            // jsonb_in makes, without its JSON parser or numeric_in.
            return Datum::from(scalar_jsonb(&bytes));
        }
        let Ok(text) = std::ffi::CString::new(output) else {
            raise(
                Code::ERRCODE_INTERNAL_ERROR,
                "the script's output holds a NUL byte".into(),
            )
        };
        pg_sys::OidInputFunctionCall(
            pg_sys::F_JSONB_IN.into(),
            text.as_ptr().cast_mut(),
            pg_sys::JSONBOID,
            -1,
        )
    }
}

/// A jsonb holding one numeric (its bytes after the varlena header), laid
/// out as JsonbValueToJsonb lays out a scalar (utils/jsonb.h, an on-disk
/// format): a one-element raw-scalar array whose entry has its end offset,
/// then the numeric, 4-byte aligned already, with a 4-byte header.
///
/// # Safety
/// In a memory context the result may live in.
pub unsafe fn scalar_jsonb(numeric: &[u8]) -> *mut u8 {
    const JB_FSCALAR: u32 = 0x1000_0000;
    const JB_FARRAY: u32 = 0x4000_0000;
    const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
    const JENTRY_HAS_OFF: u32 = 0x8000_0000;
    let numeric_len = 4 + numeric.len();
    let total = 12 + numeric_len;
    // SAFETY: a new allocation of `total` bytes, each written below.
    unsafe {
        let p = pg_sys::palloc(total).cast::<u8>();
        pgrx::set_varsize_4b(p.cast(), total as i32);
        p.add(4)
            .cast::<u32>()
            .write_unaligned(1 | JB_FSCALAR | JB_FARRAY);
        p.add(8)
            .cast::<u32>()
            .write_unaligned(JENTRY_ISNUMERIC | JENTRY_HAS_OFF | numeric_len as u32);
        pgrx::set_varsize_4b(p.add(12).cast(), numeric_len as i32);
        std::ptr::copy_nonoverlapping(numeric.as_ptr(), p.add(16), numeric.len());
        p
    }
}

#[cfg(test)]
mod tests {
    use super::jsonb_key_order;

    fn order(keys: &[&str]) -> Vec<usize> {
        let bytes: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        jsonb_key_order(&bytes)
    }

    #[test]
    fn shorter_keys_first_then_bytes() {
        assert_eq!(order(&["qty", "unit_price", "tier"]), vec![0, 2, 1]);
        assert_eq!(order(&["b", "a", "aa", "B"]), vec![3, 1, 0, 2]);
        assert_eq!(order(&["é", "z"]), vec![1, 0]);
    }

    #[test]
    fn last_of_a_key_given_twice() {
        assert_eq!(order(&["a", "b", "a"]), vec![2, 1]);
        assert_eq!(order(&["k", "k", "k"]), vec![2]);
        assert_eq!(order(&[]), Vec::<usize>::new());
    }
}
