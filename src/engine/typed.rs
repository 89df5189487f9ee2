//! Scripts as SQL functions and triggers (`LANGUAGE jsrt`, sql/api.sql).
//! A function's body (`prosrc`) is its script's id. Each call converts the
//! Datums straight to JS values, runs the script's current version in the
//! session's tenant through `run::execute_typed`, and converts what it
//! returns straight to the declared type: no JSON text on the way.
//!
//! What a call site needs (converters, the trigger's row shape) is kept in
//! `fn_extra` for as long as Postgres keeps the call site; the compiled
//! script and the tenant's runtime are kept by `run.rs` as for every run.

use std::cell::RefCell;
use std::ffi::CStr;
use std::rc::Rc;

use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::{ereport, PgMemoryContexts, PgSqlErrorCode as Code};
use rquickjs::{qjs, Ctx, Value};

use super::convert::{Arg, ReadOptions};
use super::host::db::{arg, datum};
use super::host::js::freeze;
use super::run;
use super::sandbox::{get, object_of, replace, word, Argv, Kept, Make, Names, Shapes, Typed};
use super::sql::{self, Cell, Decoder, Param};
use crate::catalog::scripts;
use crate::error::{Error, OrRaise};

/// What one call site keeps between calls.
struct Site {
    fn_oid: Oid,
    /// the script's id, from prosrc
    script: String,
    /// how values are read (the function's options, in its body)
    read: ReadOptions,
    args: Vec<Decoder>,
    /// None for a trigger function
    ret: Option<Param>,
    /// the result is json or jsonb: a JS value becomes its JSON text (a string its JSON string),
    /// unless the function takes JSON as text (option jsonText)
    ret_json: bool,
    /// a trigger's table: its oid and how its rows convert
    rows: Option<(Oid, RowShape)>,
    /// some type's text form depends on settings (DateStyle, TimeZone, ...): the
    /// conversions then run under the fixed settings of script SQL
    needs_settings: bool,
    /// the script, and its places under the concurrency caps held for as long
    /// as the call site lives (the statement): one lock per statement, not per row
    site_script: run::SiteScript,
}

/// Whether values of `typ` convert the same whatever the session's settings.
fn settings_free(typ: Oid) -> bool {
    // SAFETY: syscache lookups inside the calling transaction.
    let base = unsafe { pg_sys::getBaseType(typ) };
    match base {
        pg_sys::BOOLOID
        | pg_sys::INT2OID
        | pg_sys::INT4OID
        | pg_sys::INT8OID
        | pg_sys::FLOAT4OID
        | pg_sys::FLOAT8OID
        | pg_sys::NUMERICOID
        | pg_sys::TEXTOID
        | pg_sys::VARCHAROID
        | pg_sys::BYTEAOID
        | pg_sys::JSONOID
        | pg_sys::JSONBOID
        | pg_sys::UUIDOID
        | pg_sys::VOIDOID
        | pg_sys::TRIGGEROID => true,
        // SAFETY: as above.
        _ => match unsafe { pg_sys::get_element_type(base) } {
            e if e == pg_sys::InvalidOid => false,
            e => settings_free(e),
        },
    }
}

/// The columns of a trigger's table.
struct RowShape {
    /// per attribute: None for a dropped column
    columns: Vec<Option<Column>>,
    needs_settings: bool,
    /// some column reads as json or an array, which JS can change in place
    has_json_or_arrays: bool,
    table: String,
    schema: String,
    /// unique to this shape in the process: with the event, what a reused `tg` was made for
    stamp: u64,
    /// its names as atoms of the runtime that last ran it, while that runtime's uid holds
    atoms: RefCell<Option<ShapeAtoms>>,
}

struct ShapeAtoms {
    uid: u64,
    /// per attribute (JS_ATOM_NULL for a dropped column)
    columns: Vec<qjs::JSAtom>,
    /// those of the columns a row object has, in order
    present: Vec<qjs::JSAtom>,
    table: qjs::JSAtom,
    schema: qjs::JSAtom,
}

impl RowShape {
    /// Its names as atoms of the runtime `names` belongs to, made on its first call there.
    fn atoms(
        &self,
        ctx: &Ctx<'_>,
        names: &Names<'_>,
    ) -> rquickjs::Result<std::cell::Ref<'_, ShapeAtoms>> {
        if self
            .atoms
            .borrow()
            .as_ref()
            .is_none_or(|a| a.uid != names.uid)
        {
            let columns = self
                .columns
                .iter()
                .map(|c| {
                    c.as_ref()
                        .map_or(Ok(qjs::JS_ATOM_NULL), |c| names.atom(ctx, &c.name))
                })
                .collect::<rquickjs::Result<Vec<_>>>()?;
            *self.atoms.borrow_mut() = Some(ShapeAtoms {
                uid: names.uid,
                present: columns
                    .iter()
                    .copied()
                    .filter(|&a| a != qjs::JS_ATOM_NULL)
                    .collect(),
                columns,
                table: names.atom(ctx, &self.table)?,
                schema: names.atom(ctx, &self.schema)?,
            });
        }
        std::cell::Ref::filter_map(self.atoms.borrow(), Option::as_ref)
            .map_err(|_| rquickjs::Error::Unknown)
    }
}

struct Column {
    name: String,
    typ: Oid,
    decoder: Decoder,
    param: Param,
}

fn raise(code: Code, message: String) -> ! {
    ereport!(ERROR, code, message);
}

/// The call handler's work for one call.
///
/// # Safety
/// `fcinfo` is the call Postgres makes to a `LANGUAGE jsrt` function.
pub unsafe fn call(fcinfo: pg_sys::FunctionCallInfo) -> Datum {
    // SAFETY: the caller's contract: fcinfo and its flinfo are valid for the call.
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        let trigger = is_trigger(fcinfo);
        if (*flinfo).fn_extra.is_null() {
            let site = site((*flinfo).fn_oid, trigger);
            (*flinfo).fn_extra = PgMemoryContexts::For((*flinfo).fn_mcxt)
                .leak_and_drop_on_delete(site)
                .cast();
        }
        let site = &mut *(*flinfo).fn_extra.cast::<Site>();
        if crate::tenancy::in_script_sql() {
            // Runs never nest (run.rs); say why here, before anything runs as the script role.
            raise(
                Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "{} is a jsrt function or trigger, reached from a script's own SQL: a script cannot run inside another script's run",
                    proc_name(site.fn_oid)
                ),
            );
        }
        let script = site.script();
        if trigger {
            call_trigger(fcinfo, site, &script)
        } else {
            let _pinned = site
                .needs_settings
                .then(|| crate::tenancy::Pinned::set(crate::tenancy::SCRIPT_SETTINGS, false));
            call_function(fcinfo, site, &script)
        }
    }
}

impl Site {
    /// The script to run for the session's tenant: the one resolved last for
    /// it while no script changed (the cache's generation), else resolved
    /// again, taking its places.
    fn script(&mut self) -> Rc<scripts::Script> {
        match self.site_script.get_fixed(&self.script) {
            Ok(s) => s,
            Err(Error::NoTenant) => raise(
                Code::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "{} runs a jsrt script in the session's tenant, and no tenant is set; call jsrt.set_tenant(name) first",
                    proc_name(self.fn_oid)
                ),
            ),
            Err(Error::UnknownScript(_)) => raise(
                Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "{} runs script {}, which is not a script of the session's tenant: a jsrt function runs only for the tenant its script belongs to",
                    proc_name(self.fn_oid),
                    self.script
                ),
            ),
            Err(e) => e.raise(),
        }
    }
}

unsafe fn is_trigger(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    // SAFETY: the caller's fcinfo; `context` is null or a Node.
    unsafe {
        let c = (*fcinfo).context;
        !c.is_null() && (*c).type_ == pg_sys::NodeTag::T_TriggerData
    }
}

/// What a `LANGUAGE jsrt` function's pg_proc row says: its body (the
/// script and options), return type, argument types, SECURITY DEFINER and
/// SETOF. None when there is no such function.
pub struct ProcRow {
    pub body: String,
    pub ret: Oid,
    pub args: Vec<Oid>,
    pub definer: bool,
    pub retset: bool,
}

pub fn proc_row(fn_oid: Oid) -> Option<ProcRow> {
    crate::catalog::proc::with_proc(fn_oid, |tuple, form| {
        let mut isnull = false;
        // SAFETY: the row's own prosrc, copied out while the row is held.
        let body = unsafe {
            let src = pg_sys::SysCacheGetAttr(
                pg_sys::SysCacheIdentifier::PROCOID as _,
                tuple,
                pg_sys::Anum_pg_proc_prosrc as _,
                &mut isnull,
            );
            if isnull {
                String::new()
            } else {
                let c = pg_sys::text_to_cstring(src.cast_mut_ptr());
                let s = CStr::from_ptr(c).to_string_lossy().trim().to_string();
                pg_sys::pfree(c.cast());
                s
            }
        };
        let n = form.pronargs as usize;
        ProcRow {
            body,
            ret: form.prorettype,
            // SAFETY: the row's pronargs argument types.
            args: unsafe { form.proargtypes.values.as_slice(n) }.to_vec(),
            definer: form.prosecdef,
            retset: form.proretset,
        }
    })
}

/// Reads the function's catalog row once per call site.
fn site(fn_oid: Oid, trigger: bool) -> Site {
    let Some(ProcRow {
        body: script,
        ret,
        args,
        definer,
        retset,
    }) = proc_row(fn_oid)
    else {
        raise(
            Code::ERRCODE_UNDEFINED_FUNCTION,
            format!("function {fn_oid:?} does not exist"),
        );
    };
    if let Err(why) = check_shape(ret, &args, definer, retset, trigger) {
        raise(
            Code::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("{}: {why}", proc_name(fn_oid)),
        );
    }
    let (script, read) = match super::convert::function_body(&script) {
        Ok(b) => b,
        Err(why) => raise(
            Code::ERRCODE_INVALID_FUNCTION_DEFINITION,
            format!("{}: {why}", proc_name(fn_oid)),
        ),
    };
    // SAFETY: a syscache lookup inside the calling transaction.
    let ret_base = unsafe { pg_sys::getBaseType(ret) };
    Site {
        fn_oid,
        script,
        read,
        args: args.iter().map(|&t| sql::decoder(t, read)).collect(),
        ret: (!trigger).then(|| sql::param(ret)),
        ret_json: !read.json_text && matches!(ret_base, pg_sys::JSONOID | pg_sys::JSONBOID),
        rows: None,
        site_script: run::SiteScript::default(),
        needs_settings: !args
            .iter()
            .chain(std::iter::once(&ret))
            .all(|&t| settings_free(t)),
    }
}

/// Why a `LANGUAGE jsrt` function cannot be, if it cannot: the validator
/// asks at CREATE FUNCTION, the handler again before a first call.
pub fn check_shape(
    ret: Oid,
    args: &[Oid],
    definer: bool,
    retset: bool,
    trigger: bool,
) -> Result<(), String> {
    if definer {
        return Err("a jsrt function runs as its caller; SECURITY DEFINER is refused (its script's SQL runs as jsrt_script anyway)".into());
    }
    if retset {
        return Err(
            "a jsrt function returns one value; SETOF is not supported (return an array or jsonb)"
                .into(),
        );
    }
    if ret == pg_sys::TRIGGEROID {
        if !args.is_empty() {
            return Err("a trigger function takes no declared arguments (CREATE TRIGGER's arguments arrive as tg.args)".into());
        }
        return Ok(());
    }
    if trigger {
        return Err("only a function returning trigger can be a trigger".into());
    }
    for &t in args.iter().chain(std::iter::once(&ret)) {
        // SAFETY: a syscache lookup inside the transaction.
        let pseudo =
            unsafe { pg_sys::get_typtype(t) } == pg_sys::TYPTYPE_PSEUDO as std::ffi::c_char;
        if pseudo && t != pg_sys::VOIDOID {
            return Err(format!(
                "type {} is not supported: declare concrete argument and return types",
                type_name(t)
            ));
        }
    }
    Ok(())
}

fn type_name(t: Oid) -> String {
    // SAFETY: format_type_be returns a palloc'd string, copied here.
    unsafe {
        let p = pg_sys::format_type_be(t);
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

fn proc_name(f: Oid) -> String {
    // SAFETY: format_procedure returns a palloc'd string, copied here.
    unsafe {
        let p = pg_sys::format_procedure(f);
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// A function call's arguments (the caller's datums) and result.
struct FunctionCall<'a> {
    given: &'a [pg_sys::NullableDatum],
    decoders: &'a [Decoder],
    ret_json: bool,
    result: RefCell<Option<Arg>>,
}

/// A call's value (None: SQL NULL) as the script is given it, owned by the caller.
///
/// # Safety
/// `d` is a datum of the type `how` was made for, alive during the call.
unsafe fn js_of(ctx: &Ctx<'_>, d: Option<Datum>, how: &Decoder) -> rquickjs::Result<qjs::JSValue> {
    match d {
        None => Ok(qjs::JS_NULL),
        // SAFETY: the caller's.
        Some(d) => unsafe { datum(ctx, d, how) },
    }
}

/// The same value as a Cell, for history and comparisons.
///
/// # Safety
/// As for `js_of`.
unsafe fn cell_of(d: Option<Datum>, how: &Decoder) -> Cell {
    match d {
        None => Cell::Null,
        // SAFETY: the caller's.
        Some(d) => unsafe { sql::decode(d, how) },
    }
}

impl FunctionCall<'_> {
    /// Argument `a`'s datum, unless it is null.
    fn non_null(a: &pg_sys::NullableDatum) -> Option<Datum> {
        (!a.isnull).then_some(a.value)
    }

    fn cells(&self) -> Vec<Cell> {
        let given = self.given.iter().zip(self.decoders);
        // SAFETY: the call's arguments, each of the type its decoder was made for.
        given
            .map(|(a, d)| unsafe { cell_of(Self::non_null(a), d) })
            .collect()
    }
}

impl Typed for FunctionCall<'_> {
    fn args<'js>(
        &self,
        ctx: &Ctx<'js>,
        _: &Names<'_>,
        kept: &Kept,
        argv: &mut Argv<'_, 'js>,
    ) -> rquickjs::Result<()> {
        for (a, how) in self.given.iter().zip(self.decoders) {
            let d = Self::non_null(a);
            // SAFETY: as in `cells`; the value is new, and passes to `argv`.
            unsafe {
                // A short text is passed as the string made of the same bytes lately.
                let short = match (d, how) {
                    (Some(d), Decoder::PlainText) => sql::inline_bytes(d),
                    _ => None,
                };
                let v = match short {
                    Some(bytes) => kept.texts.string(ctx, bytes, || js_of(ctx, d, how))?,
                    None => js_of(ctx, d, how)?,
                };
                argv.push_raw(v);
            }
        }
        Ok(())
    }

    fn result<'js>(&self, ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<()> {
        let a = if self.ret_json && !value.is_null() && !value.is_undefined() {
            Arg::Json(super::host::js::strict_json(ctx, "the result", &value)?)
        } else {
            arg(ctx, &value)?
        };
        *self.result.borrow_mut() = Some(a);
        Ok(())
    }
}

unsafe fn call_function(
    fcinfo: pg_sys::FunctionCallInfo,
    site: &Site,
    script: &scripts::Script,
) -> Datum {
    let call = FunctionCall {
        // SAFETY: the caller's fcinfo, with as many arguments as the function declares.
        given: unsafe { (*fcinfo).args.as_slice((*fcinfo).nargs as usize) },
        decoders: &site.args,
        ret_json: site.ret_json,
        result: RefCell::new(None),
    };
    run::execute_typed(script, "function", &call, &|| cells_json(&call.cells())).or_raise();
    let result = call.result.into_inner().unwrap_or(Arg::Null);
    let Some(ret) = &site.ret else {
        return Datum::from(0);
    };
    // SAFETY: inside the caller's transaction and memory context.
    match unsafe { sql::datum_of(&result, ret) } {
        Ok(Some(d)) => d,
        Ok(None) => {
            // SAFETY: the caller's fcinfo.
            unsafe { (*fcinfo).isnull = true };
            Datum::from(0)
        }
        Err(why) => raise(
            Code::ERRCODE_DATATYPE_MISMATCH,
            format!(
                "script \"{}\" returned a value {} cannot take: {why}",
                script.name,
                proc_name(site.fn_oid)
            ),
        ),
    }
}

/// What a call's history keeps as its input: the arguments, as JSON.
fn cells_json(cells: &[Cell]) -> String {
    fn one(c: &Cell) -> serde_json::Value {
        match c {
            Cell::Null => serde_json::Value::Null,
            Cell::Bool(b) => (*b).into(),
            Cell::Int(n) => (*n).into(),
            Cell::BigInt(n) => n.to_string().into(),
            Cell::Float(f) => serde_json::Number::from_f64(*f)
                .map_or_else(|| f.to_string().into(), serde_json::Value::Number),
            Cell::Text(s) => s.clone().into(),
            Cell::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| s.clone().into()),
            Cell::Date(ms) => super::convert::iso_date(*ms).unwrap_or_default().into(),
            Cell::Bytes(b) => format!("\\x{}", crate::encoding::hex(b)).into(),
            Cell::Array(items) => items.iter().map(one).collect(),
        }
    }
    serde_json::json!({ "args": cells.iter().map(one).collect::<Vec<_>>() }).to_string()
}

// ---------------------------------------------------------------- triggers

/// What a trigger's script gave back.
enum RowResult {
    /// undefined: the row as it was
    Keep,
    /// null: skip the row (BEFORE triggers)
    Skip,
    /// the row to write: per attribute, None where the object has no such property
    Row(Vec<Option<Arg>>),
}

struct TriggerCall<'a> {
    shape: &'a RowShape,
    op: &'static str,
    when: &'static str,
    /// the trigger: its name and arguments
    trigger: &'a pg_sys::Trigger,
    new: Option<Row>,
    old: Option<Row>,
    /// NEW's columns as the script was given them, in the form a returned value takes:
    /// a column that comes back the same keeps its stored value, exactly
    baseline: RefCell<Vec<Option<Arg>>>,
    result: RefCell<Option<RowResult>>,
}

/// A row the trigger was given: its datums, valid for the call, and their
/// cells, decoded only when asked for (a returned row's comparison, history).
struct Row {
    values: Vec<Datum>,
    nulls: Vec<bool>,
    cells: std::cell::OnceCell<Vec<Cell>>,
}

impl Row {
    /// # Safety
    /// `tuple` is a row of the relation `desc` describes, alive for the call.
    unsafe fn read(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc) -> Row {
        // SAFETY: the caller's tuple and descriptor; one slot per attribute of `desc`.
        unsafe {
            let n = (*desc).natts as usize;
            let mut row = Row {
                values: vec![Datum::from(0); n],
                nulls: vec![true; n],
                cells: std::cell::OnceCell::new(),
            };
            pg_sys::heap_deform_tuple(tuple, desc, row.values.as_mut_ptr(), row.nulls.as_mut_ptr());
            row
        }
    }

    /// Column `i`'s datum, unless it is null (or beyond the row).
    fn non_null(&self, i: usize) -> Option<Datum> {
        match self.nulls.get(i) {
            Some(false) => self.values.get(i).copied(),
            _ => None,
        }
    }

    /// Column `i` as the JS value the script is given.
    fn value<'js>(&self, ctx: &Ctx<'js>, i: usize, col: &Column) -> rquickjs::Result<Value<'js>> {
        // SAFETY: a datum of the row, of the column's type, alive for the call; the new
        // value passes to the Value.
        unsafe {
            let v = js_of(ctx, self.non_null(i), &col.decoder)?;
            Ok(Value::from_raw(ctx.clone(), v))
        }
    }

    fn cells(&self, shape: &RowShape) -> &[Cell] {
        self.cells.get_or_init(|| {
            let columns = shape.columns.iter().enumerate();
            columns
                .map(|(i, col)| match col {
                    // SAFETY: as in `value`.
                    Some(col) => unsafe { cell_of(self.non_null(i), &col.decoder) },
                    None => Cell::Null,
                })
                .collect()
        })
    }
}

impl TriggerCall<'_> {
    fn row<'js>(
        &self,
        ctx: &Ctx<'js>,
        atoms: &[qjs::JSAtom],
        row: &Option<Row>,
    ) -> rquickjs::Result<Value<'js>> {
        let Some(row) = row else {
            return Ok(Value::new_null(ctx.clone()));
        };
        let mut props = Vec::with_capacity(atoms.len());
        for (i, (col, atom)) in self.shape.columns.iter().zip(atoms).enumerate() {
            if let Some(col) = col {
                props.push((*atom, row.value(ctx, i, col)?));
            }
        }
        Ok(object_of(ctx, &props, Make::Plain)?.into_value())
    }

    /// What the json and array columns of `row` (tg.new, as made) give as
    /// returned values, before the script can change them in place; the other
    /// columns' are compared with their cells (`returns_as`).
    fn remember<'js>(
        &self,
        ctx: &Ctx<'js>,
        atoms: &[qjs::JSAtom],
        row: &Value<'js>,
    ) -> rquickjs::Result<()> {
        let (Some(o), Some(new)) = (row.as_object(), &self.new) else {
            return Ok(());
        };
        let cells = new.cells(self.shape);
        let mut base = Vec::with_capacity(self.shape.columns.len());
        for ((col, c), atom) in self.shape.columns.iter().zip(cells).zip(atoms) {
            base.push(match col {
                Some(_) if !is_plain(c) => Some(arg(ctx, &get(ctx, o, *atom)?)?),
                _ => None,
            });
        }
        *self.baseline.borrow_mut() = base;
        Ok(())
    }

    /// Whether `a` is column `i` of NEW as the script was given it, in the
    /// form a returned value takes.
    fn given_as(&self, i: usize, a: &Arg) -> bool {
        if let Some(b) = self.baseline.borrow().get(i).and_then(Option::as_ref) {
            return b == a;
        }
        self.new
            .as_ref()
            .and_then(|row| row.cells(self.shape).get(i))
            .is_some_and(|c| returns_as(c, a))
    }
}

/// Whether a value read as `c` and returned unchanged gives `a`, for the
/// values JS cannot change in place (or whose change makes a new value); never
/// for json and arrays, whose form comes from JS (`remember`).
fn returns_as(c: &Cell, a: &Arg) -> bool {
    match (c, a) {
        (Cell::Null, Arg::Null) => true,
        (Cell::Bool(x), Arg::Bool(y)) => x == y,
        (Cell::Int(n), Arg::Number(f)) => *n as f64 == *f,
        (Cell::BigInt(n), Arg::BigInt(s)) => n.to_string() == *s,
        (Cell::Float(x), Arg::Number(f)) => x == f,
        (Cell::Text(t), Arg::Text(s)) => t == s,
        (Cell::Date(x), Arg::Date(y)) => x == y,
        (Cell::Bytes(x), Arg::Bytes(y)) => x == y,
        _ => false,
    }
}

/// Whether a value read as `c` can be compared as returned (`returns_as`):
/// all but json and arrays.
fn is_plain(c: &Cell) -> bool {
    !matches!(c, Cell::Json(_) | Cell::Array(_))
}

impl Typed for TriggerCall<'_> {
    fn args<'js>(
        &self,
        ctx: &Ctx<'js>,
        names: &Names<'_>,
        kept: &Kept,
        argv: &mut Argv<'_, 'js>,
    ) -> rquickjs::Result<()> {
        let a = names.atoms;
        let shape = self.shape.atoms(ctx, names)?;
        kept.shapes
            .keep(ctx, self.shape.stamp, &shape.present, Make::Plain)?;
        let (op, op_n) = match self.op {
            "INSERT" => (a.insert, 0),
            "UPDATE" => (a.update, 1),
            "DELETE" => (a.delete, 2),
            _ => (a.truncate, 3),
        };
        let (when, when_n) = match self.when {
            "BEFORE" => (a.before, 0),
            "AFTER" => (a.after, 1),
            _ => (a.instead_of, 2),
        };
        let new = self.row(ctx, &shape.columns, &self.new)?;
        if self.when == "BEFORE" && self.shape.has_json_or_arrays {
            self.remember(ctx, &shape.columns, &new)?;
        }
        let old = self.row(ctx, &shape.columns, &self.old)?;
        // The same statement's rows share tg's fixed part, which is read-only:
        // the last row's tg is passed again with its new and old replaced.
        let key = self.shape.stamp << 4 | op_n << 2 | when_n;
        if let Some((tg, ())) = kept.tg.take(ctx, key) {
            if replace(ctx, &tg, a.new, &new)? && replace(ctx, &tg, a.old, &old)? {
                kept.tg.keep(ctx, key, &tg, ());
                argv.push(tg.into_value());
                return Ok(());
            }
        }
        let targs = rquickjs::Array::new(ctx.clone())?;
        for i in 0..self.trigger.tgnargs as usize {
            // SAFETY: the trigger's tgnargs argument strings, valid for the call.
            let t = unsafe { CStr::from_ptr(*self.trigger.tgargs.add(i)) };
            targs.set(i, t.to_string_lossy().as_ref())?;
        }
        freeze(ctx, targs.as_object());
        // SAFETY: the trigger's name, valid for the call.
        let name = unsafe { CStr::from_ptr(self.trigger.tgname) }.to_string_lossy();
        let props = [
            (a.op, word(ctx, op)?),
            (a.when, word(ctx, when)?),
            (a.level, word(ctx, a.row)?),
            (a.name, word(ctx, names.atom(ctx, &name)?)?),
            (a.table, word(ctx, shape.table)?),
            (a.schema, word(ctx, shape.schema)?),
            (a.args, targs.into_value()),
            // the two writable ones, last
            (a.new, new),
            (a.old, old),
        ];
        let writable_from = props.len() - 2;
        let tg = object_of(ctx, &props, Make::Sealed { writable_from })?;
        kept.tg.keep(ctx, key, &tg, ());
        argv.push(tg.into_value());
        Ok(())
    }

    fn result<'js>(&self, ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<()> {
        let r = if value.is_undefined() {
            RowResult::Keep
        } else if value.is_null() {
            RowResult::Skip
        } else if let Some(o) = value.as_object().filter(|_| !value.is_array()) {
            // The column names' atoms, made by `args` for this runtime.
            let atoms = self.shape.atoms.borrow();
            let atoms = atoms.as_ref().ok_or(rquickjs::Error::Unknown)?;
            let mut row = Vec::with_capacity(self.shape.columns.len());
            for (i, (col, atom)) in self.shape.columns.iter().zip(&atoms.columns).enumerate() {
                if col.is_none() {
                    row.push(None);
                    continue;
                }
                let v = get(ctx, o, *atom)?;
                row.push(if v.is_undefined() {
                    None
                } else {
                    let a = arg(ctx, &v)?;
                    // Unchanged: keep the stored value (microseconds, jsonb null, json text).
                    // (A Date may have been changed in place: its time value is compared.)
                    (!self.given_as(i, &a)).then_some(a)
                });
            }
            RowResult::Row(row)
        } else {
            return Err(super::host::js::thrown(
                ctx,
                "TypeError",
                "a trigger script returns the row to write (tg.new, changed or not), null to skip the row, or nothing",
                "42804",
            ));
        };
        *self.result.borrow_mut() = Some(r);
        Ok(())
    }
}

unsafe fn shape_of(rel: pg_sys::Relation, read: ReadOptions) -> RowShape {
    // SAFETY: the trigger's open relation; its tuple descriptor is valid for the call.
    unsafe {
        let desc = (*rel).rd_att;
        let columns: Vec<Option<Column>> = (0..(*desc).natts as usize)
            .map(|i| {
                let att = (*desc).attrs.as_ptr().add(i);
                if (*att).attisdropped {
                    return None;
                }
                Some(Column {
                    name: CStr::from_ptr((*att).attname.data.as_ptr())
                        .to_string_lossy()
                        .into_owned(),
                    typ: (*att).atttypid,
                    decoder: sql::decoder((*att).atttypid, read),
                    param: sql::param((*att).atttypid),
                })
            })
            .collect();
        let needs_settings = !columns.iter().flatten().all(|c| settings_free(c.typ));
        let has_json_or_arrays = columns
            .iter()
            .flatten()
            .any(|c| matches!(c.decoder, Decoder::Json(_) | Decoder::Array { .. }));
        let schema = {
            let p = pg_sys::get_namespace_name((*(*rel).rd_rel).relnamespace);
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        RowShape {
            columns,
            needs_settings,
            has_json_or_arrays,
            table: relation_name(rel),
            schema,
            stamp: Shapes::stamp(),
            atoms: RefCell::new(None),
        }
    }
}

unsafe fn call_trigger(
    fcinfo: pg_sys::FunctionCallInfo,
    site: &mut Site,
    script: &scripts::Script,
) -> Datum {
    // SAFETY: the caller's fcinfo, called as a trigger: its context is a TriggerData whose relation,
    // tuples and trigger are valid for the call.
    unsafe {
        let td = (*fcinfo).context.cast::<pg_sys::TriggerData>();
        let event = (*td).tg_event;
        if event & pg_sys::TRIGGER_EVENT_ROW == 0 {
            raise(
                Code::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!(
                    "{}: jsrt triggers are row triggers (FOR EACH ROW)",
                    proc_name(site.fn_oid)
                ),
            );
        }
        let rel = (*td).tg_relation;
        let relid = (*rel).rd_id;
        if site.rows.as_ref().is_none_or(|(r, _)| *r != relid) {
            site.rows = Some((relid, shape_of(rel, site.read)));
        }
        let Some((_, shape)) = &site.rows else {
            unreachable!("the shape was just made")
        };
        let desc = (*rel).rd_att;
        let _pinned = shape
            .needs_settings
            .then(|| crate::tenancy::Pinned::set(crate::tenancy::SCRIPT_SETTINGS, false));
        let op = match event & pg_sys::TRIGGER_EVENT_OPMASK {
            pg_sys::TRIGGER_EVENT_INSERT => "INSERT",
            pg_sys::TRIGGER_EVENT_DELETE => "DELETE",
            pg_sys::TRIGGER_EVENT_UPDATE => "UPDATE",
            _ => "TRUNCATE",
        };
        let when = match event & pg_sys::TRIGGER_EVENT_TIMINGMASK {
            pg_sys::TRIGGER_EVENT_BEFORE => "BEFORE",
            pg_sys::TRIGGER_EVENT_INSTEAD => "INSTEAD OF",
            _ => "AFTER",
        };
        let trigtuple = (*td).tg_trigtuple;
        let newtuple = (*td).tg_newtuple;
        let (new_t, old_t) = match op {
            "INSERT" => (trigtuple, std::ptr::null_mut()),
            "UPDATE" => (newtuple, trigtuple),
            _ => (std::ptr::null_mut(), trigtuple),
        };
        let new = (!new_t.is_null()).then(|| Row::read(new_t, desc));
        let old = (!old_t.is_null()).then(|| Row::read(old_t, desc));
        let call = TriggerCall {
            shape,
            op,
            when,
            trigger: &*(*td).tg_trigger,
            new,
            old,
            baseline: RefCell::new(Vec::new()),
            result: RefCell::new(None),
        };
        let history = || {
            let mut h = serde_json::json!({"op": op, "table": call.shape.table});
            if let Some(n) = &call.new {
                h["new"] =
                    serde_json::from_str(&cells_json(n.cells(call.shape))).unwrap_or_default();
            }
            h.to_string()
        };
        run::execute_typed(script, "trigger", &call, &history).or_raise();
        let base = if new_t.is_null() { old_t } else { new_t };
        if when != "BEFORE" {
            // AFTER (and the rest): the result is ignored, as for any trigger.
            return Datum::from(0);
        }
        match call.result.into_inner().unwrap_or(RowResult::Keep) {
            RowResult::Keep => Datum::from(base),
            RowResult::Skip => Datum::from(0),
            RowResult::Row(_) if op == "DELETE" => Datum::from(base),
            RowResult::Row(row) => {
                let n = shape.columns.len();
                let mut values = vec![Datum::from(0); n];
                let mut nulls = vec![false; n];
                let mut replace = vec![false; n];
                for (i, (col, v)) in shape.columns.iter().zip(row).enumerate() {
                    let (Some(col), Some(v)) = (col, v) else {
                        continue;
                    };
                    match sql::datum_of(&v, &col.param) {
                        Ok(Some(d)) => values[i] = d,
                        Ok(None) => nulls[i] = true,
                        Err(why) => raise(
                            Code::ERRCODE_DATATYPE_MISMATCH,
                            format!(
                                "script \"{}\" returned a row whose column \"{}\" cannot take its value: {why}",
                                script.name, col.name
                            ),
                        ),
                    }
                    replace[i] = true;
                }
                let t = pg_sys::heap_modify_tuple(
                    base,
                    desc,
                    values.as_mut_ptr(),
                    nulls.as_mut_ptr(),
                    replace.as_mut_ptr(),
                );
                Datum::from(t)
            }
        }
    }
}

unsafe fn relation_name(rel: pg_sys::Relation) -> String {
    // SAFETY: the trigger's open relation.
    unsafe {
        CStr::from_ptr((*(*rel).rd_rel).relname.data.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}
