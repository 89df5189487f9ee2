//! The SQL of scripts (ctx.db). Each statement runs in a subtransaction, as
//! the script role, under the run's deadline; its plan is kept per backend.
//!
//! A statement is checked when it is planned: one SELECT, INSERT, UPDATE,
//! DELETE or MERGE. What it reaches as it runs is checked by `crate::guard`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use pgrx::pg_sys::{self, Datum, Oid};
use pgrx::{ereport, pg_guard, PgSqlErrorCode as Code};

use super::convert::{encode, Arg, ReadOptions, Target, MAX_SAFE_INTEGER};
use super::ids::FoldHasher;
use super::watchdog;
use crate::subxact::{self, Caught};
use crate::tenancy;
use std::hash::BuildHasherDefault;

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    /// integers a JS number holds exactly
    Int(i64),
    /// bigints beyond 2^53
    BigInt(i64),
    Float(f64),
    Text(String),
    Json(String),
    /// milliseconds since 1970 UTC
    Date(f64),
    Bytes(Vec<u8>),
    Array(Vec<Cell>),
}

pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// rows the statement returned or changed
    pub affected: u64,
}

pub enum SqlError {
    /// an error the script may catch: the statement was rolled back
    Failed(Caught),
    /// a cancel, statement timeout or the like: the run ends, and the error is raised again after it
    Interrupted(Caught),
    /// the run's deadline passed during the statement
    Deadline,
}

/// Runs one statement with `args` as $1, $2, ...
pub fn run(sql: &str, args: &[Arg], max_rows: u64, read: ReadOptions) -> Result<Rows, SqlError> {
    // The deadline's timer sets `passed`, and cancels a statement running then (engine/watchdog.rs).
    if watchdog::passed() {
        return Err(SqlError::Deadline);
    }
    // Once per run, outside the statement's subtransaction, so that it lasts the run.
    RUN_SETTINGS.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_none() {
            *s = Some(tenancy::pin_script_settings());
        }
    });
    let cached = PLANS.with(|p| p.borrow().get(sql).cloned());
    // A statement that changes nothing shares a subtransaction (subxact::run_shared).
    // (Its own reference: `execute` drops the one it is given.)
    let pure = cached.as_ref().filter(|s| s.changes_nothing).cloned();
    let go = AssertUnwindSafe(|| {
        // SAFETY: inside this subtransaction, on the main thread: an ERROR in `execute` is caught by
        // subxact::run, whose rollback also closes the SPI connection it left open.
        tenancy::as_script(|| unsafe { execute(sql, cached, args, max_rows, read) })
    });
    let out = if let Some(stmt) = pure {
        // SAFETY: the statement's kept plan source, alive while `stmt` is, read on the main thread
        // inside the transaction.
        let before = unsafe { Reads::now(stmt.source) };
        // SAFETY: as above, after the statement ran.
        subxact::run_shared(go, || unsafe { before.took_no_new_lock(stmt.source) })
    } else {
        subxact::run(go)
    };
    match out {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => Err(SqlError::Failed(Caught {
            code: e.code(),
            message: e.message(),
            detail: None,
            hint: None,
        })),
        Err(c) if c.code == Code::ERRCODE_QUERY_CANCELED => {
            if watchdog::take_sql_cancel() {
                Err(SqlError::Deadline)
            } else {
                Err(SqlError::Interrupted(c))
            }
        }
        Err(c) => Err(SqlError::Failed(c)),
    }
}

unsafe fn execute(
    sql: &str,
    cached: Option<Rc<Statement>>,
    args: &[Arg],
    max_rows: u64,
    read: ReadOptions,
) -> Rows {
    // SAFETY: SPI calls inside the caller's subtransaction; the tuple table is read before SPI_finish
    // frees it, and an ERROR unwinds to subxact::run, whose rollback cleans SPI up.
    unsafe {
        if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
            fail(
                Code::ERRCODE_INTERNAL_ERROR,
                "ctx.db: SPI_connect failed".into(),
            );
        }
        // What the statement changes (set_config) ends with it. Closing that
        // level costs a pass over every setting, so a statement known to
        // change none skips it (a new one is not known yet).
        let known = cached.as_ref().map(|s| s.may_change_settings);
        let _undo = (known != Some(false)).then(|| tenancy::Pinned::set(&[], false));
        let stmt = cached.unwrap_or_else(|| prepare(sql));
        if args.len() != stmt.params.len() {
            fail(
                Code::ERRCODE_INVALID_PARAMETER_VALUE,
                format!(
                    "the statement takes {} parameter(s), {} given",
                    stmt.params.len(),
                    args.len()
                ),
            );
        }
        let mut values = Vec::with_capacity(args.len());
        let mut nulls = Vec::with_capacity(args.len());
        for (i, (arg, p)) in args.iter().zip(&stmt.params).enumerate() {
            match datum_of(arg, p) {
                Err(why) => fail(
                    Code::ERRCODE_INVALID_PARAMETER_VALUE,
                    format!("parameter ${}: {why}", i + 1),
                ),
                Ok(None) => {
                    values.push(Datum::from(0));
                    nulls.push(b'n' as c_char);
                }
                Ok(Some(d)) => {
                    values.push(d);
                    nulls.push(b' ' as c_char);
                }
            }
        }
        if stmt.simple {
            if let Some(rows) = evaluate(&stmt, &values, &nulls, max_rows, read) {
                pg_sys::SPI_finish();
                return rows;
            }
        }
        let limit = max_rows.saturating_add(1).min(i64::MAX as u64) as i64;
        let rc =
            pg_sys::SPI_execute_plan(stmt.plan, values.as_mut_ptr(), nulls.as_ptr(), false, limit);
        if rc < 0 {
            fail(
                Code::ERRCODE_INTERNAL_ERROR,
                format!("ctx.db: SPI_execute_plan failed ({rc})"),
            );
        }
        let affected = pg_sys::SPI_processed;
        let table = pg_sys::SPI_tuptable;
        let mut rows = Rows {
            columns: Vec::new(),
            rows: Vec::new(),
            affected,
        };
        if !table.is_null() {
            if affected > max_rows {
                too_many_rows(max_rows);
            }
            let desc = (*table).tupdesc;
            let natts = (*desc).natts as usize;
            let mut decoders = Vec::with_capacity(natts);
            for i in 0..natts {
                let att = (*desc).attrs.as_ptr().add(i);
                rows.columns.push(
                    CStr::from_ptr((*att).attname.data.as_ptr())
                        .to_string_lossy()
                        .into_owned(),
                );
                decoders.push(decoder((*att).atttypid, read));
            }
            for r in 0..affected as usize {
                let tuple = *(*table).vals.add(r);
                let mut row = Vec::with_capacity(natts);
                for (c, d) in decoders.iter().enumerate() {
                    let mut isnull = false;
                    let datum = pg_sys::SPI_getbinval(tuple, desc, c as c_int + 1, &mut isnull);
                    row.push(if isnull { Cell::Null } else { decode(datum, d) });
                }
                rows.rows.push(row);
            }
        }
        pg_sys::SPI_finish();
        rows
    }
}

fn too_many_rows(max_rows: u64) -> ! {
    fail(
        Code::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        format!("the statement returned more than jsrt.max_query_rows ({max_rows}) rows"),
    )
}

/// Evaluates a statement of expressions alone (`is_simple`) without starting
/// an executor, as PL/pgSQL does for its expressions: its one row comes from
/// its target list. None if its plan is not a bare Result (SPI runs it then).
///
/// # Safety
/// As `execute`, which calls it with SPI connected; `values` and `nulls` match the statement's parameters.
unsafe fn evaluate(
    stmt: &Statement,
    values: &[Datum],
    nulls: &[c_char],
    max_rows: u64,
    read: ReadOptions,
) -> Option<Rows> {
    // SAFETY: the caller's. The plan is held by the current resource owner until released here (or
    // by the subtransaction's abort); expression states and the context live in SPI's memory.
    unsafe {
        let params = if values.is_empty() {
            std::ptr::null_mut()
        } else {
            let params = pg_sys::makeParamList(values.len() as c_int);
            let slots = (*params).params.as_mut_slice(values.len());
            for ((slot, (v, n)), p) in slots
                .iter_mut()
                .zip(values.iter().zip(nulls))
                .zip(&stmt.params)
            {
                slot.value = *v;
                slot.isnull = *n == b'n' as c_char;
                slot.pflags = pg_sys::PARAM_FLAG_CONST as u16;
                slot.ptype = p.typ;
            }
            params
        };
        let owner = pg_sys::CurrentResourceOwner;
        let cplan = pg_sys::GetCachedPlan(stmt.source, params, owner, std::ptr::null_mut());
        let list = (*cplan).stmt_list;
        let plan = if list.is_null() || (*list).length != 1 {
            std::ptr::null_mut()
        } else {
            (*nth::<pg_sys::PlannedStmt>(list, 0)).planTree
        };
        let bare = !plan.is_null()
            && (*plan).type_ == pg_sys::NodeTag::T_Result
            && (*plan).lefttree.is_null()
            && (*plan).qual.is_null()
            && (*plan).initPlan.is_null()
            && (*plan.cast::<pg_sys::Result>()).resconstantqual.is_null();
        if !bare {
            pg_sys::ReleaseCachedPlan(cplan, owner);
            return None;
        }
        if max_rows == 0 {
            too_many_rows(max_rows);
        }
        // As SPI does for a statement that is not read-only: it sees what the run wrote before it.
        pg_sys::CommandCounterIncrement();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        let econtext = pg_sys::CreateStandaloneExprContext();
        (*econtext).ecxt_param_list_info = params;
        let targets = (*plan).targetlist;
        let mut rows = Rows {
            columns: Vec::new(),
            rows: Vec::new(),
            affected: 1,
        };
        // As the executor's projection: every expression is set up (where the
        // right to call each function is checked, and the guard refuses what
        // scripts may not call) before any runs, and all run before any value
        // is read, so that a refusal or an error comes first as it would there.
        // (state, expression, value, null): the values live in the context's
        // per-tuple memory until it is freed below.
        let mut columns = Vec::new();
        // (`SELECT` alone has no target list: NIL, a null pointer.)
        let n = if targets.is_null() {
            0
        } else {
            (*targets).length
        };
        for i in 0..n {
            let te = nth::<pg_sys::TargetEntry>(targets, i);
            if (*te).resjunk {
                continue;
            }
            rows.columns.push(if (*te).resname.is_null() {
                "?column?".to_string()
            } else {
                CStr::from_ptr((*te).resname).to_string_lossy().into_owned()
            });
            let expr = (*te).expr;
            let state = pg_sys::ExecInitExprWithParams(expr, params);
            columns.push((state, expr, Datum::from(0), true));
        }
        for (state, _, datum, isnull) in &mut columns {
            *datum = pg_sys::ExecEvalExprSwitchContext(*state, econtext, isnull);
        }
        let row = columns
            .iter()
            .map(|&(_, expr, datum, isnull)| {
                if isnull {
                    Cell::Null
                } else {
                    decode(datum, &decoder(pg_sys::exprType(expr.cast()), read))
                }
            })
            .collect();
        rows.rows.push(row);
        pg_sys::FreeExprContext(econtext, true);
        pg_sys::PopActiveSnapshot();
        pg_sys::ReleaseCachedPlan(cplan, owner);
        Some(rows)
    }
}

/// Element `i` of a List of nodes, read in place (no guarded call: it cannot fail).
///
/// # Safety
/// `list` is a valid List of pointers with more than `i` elements.
unsafe fn nth<T>(list: *mut pg_sys::List, i: c_int) -> *mut T {
    // SAFETY: the caller's.
    unsafe { (*(*list).elements.add(i as usize)).ptr_value.cast() }
}

/// Whether `source` is a SELECT of expressions alone: no FROM, WHERE,
/// grouping, aggregates, subqueries, set-returning functions or locking
/// (`evaluate` runs it).
///
/// # Safety
/// `source` was prepared and checked (`check`).
unsafe fn is_simple(source: *mut pg_sys::CachedPlanSource) -> bool {
    // SAFETY: the caller's; its query list holds Query nodes.
    unsafe {
        let queries = (*source).query_list;
        if queries.is_null() || (*queries).length != 1 {
            return false;
        }
        let q = nth::<pg_sys::Query>(queries, 0);
        let j = (*q).jointree;
        (*q).commandType == pg_sys::CmdType::CMD_SELECT
            && (*q).utilityStmt.is_null()
            && (*q).rtable.is_null()
            && (j.is_null() || ((*j).fromlist.is_null() && (*j).quals.is_null()))
            && !(*q).hasAggs
            && !(*q).hasWindowFuncs
            && !(*q).hasTargetSRFs
            && !(*q).hasSubLinks
            && !(*q).hasModifyingCTE
            && !(*q).hasForUpdate
            && (*q).cteList.is_null()
            && (*q).rowMarks.is_null()
            && (*q).groupClause.is_null()
            && (*q).groupingSets.is_null()
            && (*q).havingQual.is_null()
            && (*q).windowClause.is_null()
            && (*q).distinctClause.is_null()
            && (*q).sortClause.is_null()
            && (*q).limitOffset.is_null()
            && (*q).limitCount.is_null()
            && (*q).setOperations.is_null()
    }
}

/// `arg` as a value of `p`'s type (None: NULL). A value its type's input
/// function refuses raises that function's ERROR (22003 out of range, 22P02
/// bad syntax); Err is a value of the wrong kind altogether.
///
/// # Safety
/// Inside a transaction; the datum is allocated in the current memory context.
pub unsafe fn datum_of(arg: &Arg, p: &Param) -> Result<Option<Datum>, String> {
    // Fast paths for the common scalar types: no text in between.
    match (arg, p.typ) {
        (Arg::Null, _) => return Ok(None),
        (Arg::Bool(b), pg_sys::BOOLOID) => return Ok(Some(Datum::from(*b))),
        (Arg::Number(n), pg_sys::INT4OID)
            if n.fract() == 0.0 && *n >= i32::MIN as f64 && *n <= i32::MAX as f64 =>
        {
            return Ok(Some(Datum::from(*n as i32)))
        }
        (Arg::Number(n), pg_sys::INT8OID)
            if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64 =>
        {
            return Ok(Some(Datum::from(*n as i64)))
        }
        (Arg::Number(n), pg_sys::FLOAT8OID) => return Ok(Some(Datum::from(n.to_bits()))),
        (Arg::Text(t), pg_sys::TEXTOID) => {
            if t.contains('\0') {
                return Err("text holds a NUL character, which Postgres cannot store".into());
            }
            // SAFETY: copies `t`'s bytes into a new text in the current memory context.
            let v =
                unsafe { pg_sys::cstring_to_text_with_len(t.as_ptr().cast(), t.len() as c_int) };
            return Ok(Some(Datum::from(v)));
        }
        _ => {}
    }
    match encode(arg, &p.target)? {
        None => Ok(None),
        Some(text) => {
            let text = CString::new(text).map_err(|_| {
                "text holds a NUL character, which Postgres cannot store".to_string()
            })?;
            // SAFETY: the type's own input function, with its I/O parameter; an ERROR it raises propagates.
            Ok(Some(unsafe {
                pg_sys::OidInputFunctionCall(p.input, text.as_ptr().cast_mut(), p.ioparam, -1)
            }))
        }
    }
}

/// Raises an ERROR inside the statement's subtransaction.
fn fail(code: Code, message: String) -> ! {
    ereport!(ERROR, code, message);
}

// ---------------------------------------------------------------- plans

/// How a JS value becomes a value of one SQL type.
pub struct Param {
    typ: Oid,
    target: Target,
    input: Oid,
    ioparam: Oid,
}

struct Statement {
    plan: pg_sys::SPIPlanPtr,
    /// its one plan source (`check`), kept with the plan
    source: *mut pg_sys::CachedPlanSource,
    params: Vec<Param>,
    /// whether running it may change a setting (`may_change_settings`)
    may_change_settings: bool,
    /// whether it changes nothing a rollback would undo (`changes_nothing`):
    /// it may then share a subtransaction with others of its kind
    changes_nothing: bool,
    /// whether it is a SELECT of expressions alone (`is_simple`)
    simple: bool,
}

thread_local! {
    // (Hashed with FNV-1a: short texts hash faster than with SipHash, and a
    // backend's 256 plans are its own script SQL.)
    static PLANS: RefCell<HashMap<String, Rc<Statement>, BuildHasherDefault<FoldHasher>>> =
        RefCell::new(HashMap::default());
}

/// Plans kept per backend; past this they are all dropped and made again.
const MAX_PLANS: usize = 256;

/// Plans and checks `sql`, and keeps the plan (`execute` looks in PLANS first).
unsafe fn prepare(sql: &str) -> Rc<Statement> {
    // SAFETY: SPI is connected (called from `execute`); a plan is kept before it is cached, and since runs
    // never nest (run.rs refuses it) no cached plan is freed while a statement uses it.
    unsafe {
        let text = CString::new(sql).unwrap_or_else(|_| {
            fail(
                Code::ERRCODE_INVALID_PARAMETER_VALUE,
                "the statement holds a NUL character".into(),
            )
        });
        // Parameter types come from how the statement uses them, as in
        // Postgres's extended protocol; then the plan is made with them fixed.
        let mut types = infer_parameter_types(&text);
        let plan = pg_sys::SPI_prepare(text.as_ptr(), types.len() as c_int, types.as_mut_ptr());
        if plan.is_null() {
            fail(
                Code::ERRCODE_INTERNAL_ERROR,
                format!(
                    "ctx.db: SPI_prepare failed ({})",
                    std::ptr::read(&raw const pg_sys::SPI_result)
                ),
            );
        }
        let source = check(plan);
        let params = types.iter().map(|&t| param(t)).collect();
        let may_change_settings = may_change_settings(source, &types);
        let changes_nothing = !may_change_settings && changes_nothing(source);
        let simple = is_simple(source);
        // (Keeping the plan keeps its plan source where it is.)
        pg_sys::SPI_keepplan(plan);
        let stmt = Rc::new(Statement {
            plan,
            source,
            params,
            may_change_settings,
            changes_nothing,
            simple,
        });
        PLANS.with(|p| {
            let mut p = p.borrow_mut();
            if p.len() >= MAX_PLANS {
                for (_, s) in p.drain() {
                    pg_sys::SPI_freeplan(s.plan);
                }
            }
            p.insert(sql.to_string(), stmt.clone());
        });
        stmt
    }
}

unsafe extern "C-unwind" {
    fn setup_parse_variable_parameters(
        pstate: *mut pg_sys::ParseState,
        types: *mut *mut Oid,
        count: *mut c_int,
    );
}

struct Inferred {
    types: *mut Oid,
    count: c_int,
}

#[pg_guard]
unsafe extern "C-unwind" fn variable_parameters(pstate: *mut pg_sys::ParseState, arg: *mut c_void) {
    let inferred = arg.cast::<Inferred>();
    // SAFETY: `arg` is the `Inferred` that infer_parameter_types passes; it outlives the prepare.
    unsafe {
        setup_parse_variable_parameters(pstate, &mut (*inferred).types, &mut (*inferred).count)
    };
}

unsafe fn infer_parameter_types(sql: &CStr) -> Vec<Oid> {
    // SAFETY: `inferred` outlives the prepare that fills it, and its array is
    // allocated here, in the caller's (SPI procedure) context: the parser only
    // repallocs it, which keeps that context. (Left to the parser, it would be
    // palloc'd in SPI's executor context, which the prepare resets before it returns.)
    unsafe {
        let mut inferred = Inferred {
            types: pg_sys::palloc0(std::mem::size_of::<Oid>()).cast(),
            count: 0,
        };
        let options = pg_sys::SPIPrepareOptions {
            parserSetup: Some(variable_parameters),
            parserSetupArg: (&raw mut inferred).cast(),
            parseMode: pg_sys::RawParseMode::RAW_PARSE_DEFAULT,
            cursorOptions: 0,
        };
        let plan = pg_sys::SPI_prepare_extended(sql.as_ptr(), &options);
        if !plan.is_null() {
            pg_sys::SPI_freeplan(plan);
        }
        (0..inferred.count as usize)
            .map(|i| match *inferred.types.add(i) {
                // Unused or untyped ($1 alone in a select list): text, as Postgres does.
                t if t == pg_sys::InvalidOid || t == pg_sys::UNKNOWNOID => pg_sys::TEXTOID,
                t => t,
            })
            .collect()
    }
}

pub fn param(typ: Oid) -> Param {
    let (mut input, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
    // SAFETY: a syscache lookup inside the statement's transaction; both out-parameters are locals.
    unsafe { pg_sys::getTypeInputInfo(typ, &mut input, &mut ioparam) };
    Param {
        typ,
        target: target(typ),
        input,
        ioparam,
    }
}

fn target(typ: Oid) -> Target {
    // SAFETY: a syscache lookup inside the statement's transaction (an unknown type raises an ERROR).
    let base = unsafe { pg_sys::getBaseType(typ) };
    match base {
        pg_sys::JSONOID | pg_sys::JSONBOID => Target::Json,
        pg_sys::BYTEAOID => Target::Bytea,
        pg_sys::DATEOID
        | pg_sys::TIMEOID
        | pg_sys::TIMETZOID
        | pg_sys::TIMESTAMPOID
        | pg_sys::TIMESTAMPTZOID => Target::Temporal,
        // SAFETY: a syscache lookup inside the statement's transaction.
        _ => match unsafe { pg_sys::get_element_type(base) } {
            e if e == pg_sys::InvalidOid => Target::Scalar,
            e => Target::Array(Box::new(target(e))),
        },
    }
}

// ---------------------------------------------------------------- what scripts may run

/// Refuses what scripts may not run; returns the statement's one plan source.
unsafe fn check(plan: pg_sys::SPIPlanPtr) -> *mut pg_sys::CachedPlanSource {
    // SAFETY: `plan` was just prepared; its plan sources and query list are Postgres Lists of those nodes.
    unsafe {
        let sources = pg_sys::SPI_plan_get_plan_sources(plan);
        let n = if sources.is_null() {
            0
        } else {
            (*sources).length
        };
        if n != 1 {
            fail(
                Code::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("ctx.db runs exactly one statement at a time, got {n}"),
            );
        }
        let source = pg_sys::list_nth(sources, 0).cast::<pg_sys::CachedPlanSource>();
        use pg_sys::CommandTag::*;
        let tag = (*source).commandTag;
        if !matches!(
            tag,
            CMDTAG_SELECT | CMDTAG_INSERT | CMDTAG_UPDATE | CMDTAG_DELETE | CMDTAG_MERGE
        ) {
            let name = CStr::from_ptr(pg_sys::GetCommandTagName(tag)).to_string_lossy();
            fail(
                Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "scripts may run only SELECT, INSERT, UPDATE, DELETE and MERGE, not {name}"
                ),
            );
        }
        let queries = (*source).query_list;
        for i in 0..(if queries.is_null() {
            0
        } else {
            (*queries).length
        }) {
            let q = pg_sys::list_nth(queries, i).cast::<pg_sys::Query>();
            if !(*q).utilityStmt.is_null() {
                fail(
                    Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    "scripts may run only SELECT, INSERT, UPDATE, DELETE and MERGE".into(),
                );
            }
        }
        source
    }
}

/// Whether running `plan` may change a setting: anything but a SELECT (its
/// triggers, defaults and checks run any function), a call of set_config or
/// of any function outside pg_catalog (which may call it), directly or as a
/// type's input or output, or a domain's checks.
unsafe fn may_change_settings(source: *mut pg_sys::CachedPlanSource, params: &[Oid]) -> bool {
    let user_type = |t: Oid| {
        let (mut f, mut varlena) = (Oid::INVALID, false);
        // SAFETY: catalog lookups inside the statement's transaction.
        unsafe {
            pg_sys::getTypeOutputInfo(t, &mut f, &mut varlena);
            foreign(f, std::ptr::null_mut())
        }
    };
    // SAFETY: `source` was just prepared and checked (`check`): its queries are Query nodes.
    unsafe {
        if (*source).commandTag != pg_sys::CommandTag::CMDTAG_SELECT
            || params.iter().any(|&t| user_type(t))
        {
            return true;
        }
        let queries = (*source).query_list;
        (0..(*queries).length).any(|i| {
            let q = pg_sys::list_nth(queries, i).cast::<pg_sys::Query>();
            (*q).commandType != pg_sys::CmdType::CMD_SELECT
                || finds(q, &CHANGES_SETTINGS)
                || result_types(q).into_iter().any(user_type)
        })
    }
}

/// Whether a statement that changes no setting also changes nothing else a
/// rollback would undo: a SELECT without FOR UPDATE/SHARE, data-modifying
/// WITH, or volatile function (pg_advisory_xact_lock, pg_notify, lo_*, and
/// any that may write), whose policies call none either.
unsafe fn changes_nothing(source: *mut pg_sys::CachedPlanSource) -> bool {
    // SAFETY: `source` was just prepared and checked (`check`): its queries are Query nodes.
    unsafe {
        let queries = (*source).query_list;
        (0..(*queries).length).all(|i| {
            let q = pg_sys::list_nth(queries, i).cast::<pg_sys::Query>();
            (*q).commandType == pg_sys::CmdType::CMD_SELECT
                && (*q).rowMarks.is_null()
                && !(*q).hasModifyingCTE
                && (*q).utilityStmt.is_null()
                && !pg_sys::contain_volatile_functions(q.cast())
                && !finds(q, &READS_BY_NAME)
        })
    }
}

/// The stable catalog functions that read tables named at run time
/// (`table_to_xml($1::regclass, ...)` and the schema and database forms):
/// what they lock is in no plan, so a shared subtransaction could not keep it.
const READS_BY_NAME: Find = Find {
    func: reads_by_name,
    domains: false,
};

#[pg_guard]
unsafe extern "C-unwind" fn reads_by_name(func: Oid, _cx: *mut c_void) -> bool {
    [2923, 2926, 2929, 2933, 2934, 2935, 2936, 2937, 2938].contains(&func.to_u32())
}

/// What a statement that changes nothing reads, as planned when it starts,
/// if the transaction held a lock on each relation already; None otherwise.
struct Reads(Option<Vec<Oid>>);

impl Reads {
    /// # Safety
    /// `source` is a kept plan source, read inside the transaction.
    unsafe fn now(source: *mut pg_sys::CachedPlanSource) -> Reads {
        // SAFETY: the caller's; relationOids is an Oid list or NIL.
        unsafe {
            let list = (*source).relationOids;
            let held = oids(list).all(|r| {
                pg_sys::CheckRelationOidLockedByMe(r, pg_sys::AccessShareLock as _, true)
                    && !has_children(r)
            });
            Reads(held.then(|| oids(list).collect()))
        }
    }

    /// Whether running it took no lock the transaction lacked: every
    /// relation it read, as planned then (perhaps again), was locked before.
    ///
    /// # Safety
    /// As for `now`, after the statement ran.
    unsafe fn took_no_new_lock(&self, source: *mut pg_sys::CachedPlanSource) -> bool {
        // SAFETY: the caller's.
        self.0
            .as_ref()
            .is_some_and(|held| unsafe { oids((*source).relationOids) }.all(|r| held.contains(&r)))
    }
}

/// The Oids of an Oid list (NIL: none).
unsafe fn oids(list: *mut pg_sys::List) -> impl Iterator<Item = Oid> {
    // SAFETY: the caller's list; an Oid list's cells hold oid_value.
    unsafe { crate::nodes::elements(list) }
        .iter()
        .map(|c| unsafe { c.oid_value })
}

/// Whether relation `r` is partitioned or has inheritance children (or is
/// gone: dropped earlier in this transaction): which of those a statement
/// locks, pruned or not, is in no plan source, so its lock counts as new.
unsafe fn has_children(r: Oid) -> bool {
    // SAFETY: a syscache lookup inside the transaction, which raises nothing for a missing row; the
    // two fields are read before the tuple is released.
    unsafe {
        let tuple =
            pg_sys::SearchSysCache1(pg_sys::SysCacheIdentifier::RELOID as _, Datum::from(r));
        if tuple.is_null() {
            return true;
        }
        let form = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_class>(tuple);
        let children =
            (*form).relhassubclass || (*form).relkind as u8 == pg_sys::RELKIND_PARTITIONED_TABLE;
        pg_sys::ReleaseSysCache(tuple);
        children
    }
}

/// A function that may change a setting: set_config, or one outside
/// pg_catalog but `jsrt.tenant_id()` (which the policies of exposed tables
/// call, and which only reads the run's tenant).
#[pg_guard]
unsafe extern "C-unwind" fn foreign(func: Oid, _cx: *mut c_void) -> bool {
    // SAFETY: catalog lookups inside the statement's transaction.
    unsafe {
        let name = pg_sys::get_func_name(func);
        if name.is_null() {
            return true;
        }
        let name = CStr::from_ptr(name).to_bytes();
        let schema = pg_sys::get_func_namespace(func);
        if schema == Oid::from(pg_sys::PG_CATALOG_NAMESPACE) {
            return name == b"set_config";
        }
        !(name == b"tenant_id" && schema == jsrt_namespace())
    }
}

/// The oid of schema jsrt (looked up each time: only when a statement is planned).
fn jsrt_namespace() -> Oid {
    // SAFETY: a catalog lookup inside a transaction; a missing schema gives InvalidOid.
    unsafe { pg_sys::get_namespace_oid(c"jsrt".as_ptr(), true) }
}

/// Such a function, or a domain's checks, may change a setting.
const CHANGES_SETTINGS: Find = Find {
    func: foreign,
    domains: true,
};

/// What `finds` looks for in a query tree: a call of a function `func` says
/// yes to, and, if `domains`, a domain's checks.
struct Find {
    func: unsafe extern "C-unwind" fn(Oid, *mut c_void) -> bool,
    domains: bool,
}

/// Whether query `q` holds what `find` looks for.
unsafe fn finds(q: *mut pg_sys::Query, find: &Find) -> bool {
    // SAFETY: the caller's query tree; `find` outlives the walk that reads it through `cx`.
    unsafe {
        pg_sys::query_tree_walker(q, Some(walk), std::ptr::from_ref(find).cast_mut().cast(), 0)
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn walk(node: *mut pg_sys::Node, cx: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: `node` is a node of the query tree being walked, whose `cx` is the `Find` that `finds`
    // passed; the walkers are Postgres's own.
    unsafe {
        let find = &*cx.cast::<Find>();
        if pg_sys::check_functions_in_node(node, Some(find.func), cx) {
            return true;
        }
        match (*node).type_ {
            pg_sys::NodeTag::T_CoerceToDomain if find.domains => true,
            pg_sys::NodeTag::T_Query => pg_sys::query_tree_walker(node.cast(), Some(walk), cx, 0),
            _ => pg_sys::expression_tree_walker(node, Some(walk), cx),
        }
    }
}

/// The types of a query's result columns.
unsafe fn result_types(q: *mut pg_sys::Query) -> Vec<Oid> {
    // SAFETY: the caller's query; its target list is a List of TargetEntry.
    unsafe {
        let tl = (*q).targetList;
        let n = if tl.is_null() { 0 } else { (*tl).length };
        (0..n)
            .map(|i| pg_sys::list_nth(tl, i).cast::<pg_sys::TargetEntry>())
            .map(|te| pg_sys::exprType((*te).expr.cast()))
            .collect()
    }
}

// ---------------------------------------------------------------- results

/// How a value of one SQL type becomes a Cell.
pub enum Decoder {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Timestamp,
    Bytea,
    /// text and varchar: their bytes are their text
    PlainText,
    Json(Oid),
    Text(Oid),
    Array {
        /// the array type's output function: an array whose lower bound is not 1 is read as its text
        output: Oid,
        elem: Oid,
        len: i16,
        byval: bool,
        align: c_char,
        inner: Box<Decoder>,
    },
}

pub fn decoder(typ: Oid, read: ReadOptions) -> Decoder {
    let base = match typ {
        // Built-in base types, the common case, without a syscache lookup.
        pg_sys::BOOLOID
        | pg_sys::INT2OID
        | pg_sys::INT4OID
        | pg_sys::INT8OID
        | pg_sys::FLOAT8OID
        | pg_sys::TEXTOID => typ,
        // SAFETY: a syscache lookup inside the statement's transaction (an unknown type raises an ERROR).
        _ => unsafe { pg_sys::getBaseType(typ) },
    };
    let output = || {
        let (mut f, mut varlena) = (pg_sys::InvalidOid, false);
        // SAFETY: a syscache lookup inside the statement's transaction; both out-parameters are locals.
        unsafe { pg_sys::getTypeOutputInfo(typ, &mut f, &mut varlena) };
        f
    };
    match base {
        pg_sys::BOOLOID => Decoder::Bool,
        pg_sys::INT2OID => Decoder::Int2,
        pg_sys::INT4OID => Decoder::Int4,
        pg_sys::INT8OID => Decoder::Int8,
        pg_sys::FLOAT4OID => Decoder::Float4,
        pg_sys::FLOAT8OID => Decoder::Float8,
        pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID if read.exact_timestamps => {
            Decoder::Text(output())
        }
        pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID => Decoder::Timestamp,
        pg_sys::BYTEAOID => Decoder::Bytea,
        pg_sys::TEXTOID | pg_sys::VARCHAROID => Decoder::PlainText,
        pg_sys::JSONOID | pg_sys::JSONBOID if read.json_text => Decoder::Text(output()),
        pg_sys::JSONOID | pg_sys::JSONBOID => Decoder::Json(output()),
        // SAFETY: a syscache lookup inside the statement's transaction.
        _ => match unsafe { pg_sys::get_element_type(base) } {
            e if e == pg_sys::InvalidOid => Decoder::Text(output()),
            elem => {
                let (mut len, mut byval, mut align) = (0i16, false, 0 as c_char);
                // SAFETY: a syscache lookup inside the statement's transaction; the out-parameters are locals.
                unsafe { pg_sys::get_typlenbyvalalign(elem, &mut len, &mut byval, &mut align) };
                Decoder::Array {
                    output: output(),
                    elem,
                    len,
                    byval,
                    align,
                    inner: Box::new(decoder(elem, read)),
                }
            }
        },
    }
}

/// The largest time value of a JS Date, in milliseconds either side of 1970.
const MAX_DATE_MS: f64 = 8.64e15;

/// Milliseconds between 1970-01-01 and 2000-01-01, Postgres's epoch.
const POSTGRES_EPOCH_MS: f64 = 946_684_800_000.0;

/// # Safety
/// `d` is a non-null datum of the type `how` was made for, alive during the call.
pub unsafe fn decode(d: Datum, how: &Decoder) -> Cell {
    // SAFETY: `d` is a non-null datum of the type `how` was made for, alive until SPI_finish;
    // varlenas are detoasted before they are read, and arrays are read as deconstruct_array lays them out.
    unsafe {
        match how {
            Decoder::Bool => Cell::Bool(d.value() != 0),
            Decoder::Int2 => Cell::Int(d.value() as i16 as i64),
            Decoder::Int4 => Cell::Int(d.value() as i32 as i64),
            Decoder::Int8 => {
                let n = d.value() as i64;
                // (not n.abs(): that overflows for the minimum int8)
                if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&n) {
                    Cell::Int(n)
                } else {
                    Cell::BigInt(n)
                }
            }
            Decoder::Float4 => Cell::Float(f32::from_bits(d.value() as u32) as f64),
            Decoder::Float8 => Cell::Float(f64::from_bits(d.value() as u64)),
            Decoder::Timestamp => match d.value() as i64 {
                i64::MAX => Cell::Text("infinity".into()),
                i64::MIN => Cell::Text("-infinity".into()),
                us => {
                    let ms = us.div_euclid(1000) as f64 + POSTGRES_EPOCH_MS;
                    if ms.abs() > MAX_DATE_MS {
                        fail(
                            Code::ERRCODE_DATETIME_FIELD_OVERFLOW,
                            "a timestamp after the year 275760 is beyond a JS Date; read it as text (::text or the exactTimestamps option)".into(),
                        );
                    }
                    Cell::Date(ms)
                }
            },
            Decoder::Bytea => Cell::Bytes(bytes_of(d).to_vec()),
            Decoder::PlainText => Cell::Text(String::from_utf8_lossy(bytes_of(d)).into_owned()),
            Decoder::Json(f) => Cell::Json(output(*f, d)),
            Decoder::Text(f) => Cell::Text(output(*f, d)),
            Decoder::Array {
                output: array_output,
                elem,
                len,
                byval,
                align,
                inner,
            } => {
                let arr = pg_sys::pg_detoast_datum(d.cast_mut_ptr()).cast::<pg_sys::ArrayType>();
                let ndim = (*arr).ndim as usize;
                let dims = std::slice::from_raw_parts(
                    arr.cast::<u8>()
                        .add(std::mem::size_of::<pg_sys::ArrayType>())
                        .cast::<c_int>(),
                    ndim * 2,
                );
                let (dims, lower) = dims.split_at(ndim);
                if lower.iter().any(|&l| l != 1) {
                    // A JS array starts at 0 whatever Postgres's starts at: keep the
                    // bounds by reading such an array as its text, `[0:2]={1,2,3}`,
                    // which goes back in unchanged.
                    return Cell::Text(output(*array_output, d));
                }
                let (mut values, mut nulls, mut n) =
                    (std::ptr::null_mut(), std::ptr::null_mut(), 0);
                pg_sys::deconstruct_array(
                    arr,
                    *elem,
                    (*len).into(),
                    *byval,
                    *align,
                    &mut values,
                    &mut nulls,
                    &mut n,
                );
                let mut flat = (0..n as usize).map(|i| {
                    if *nulls.add(i) {
                        Cell::Null
                    } else {
                        decode(*values.add(i), inner)
                    }
                });
                nest(&mut flat, dims)
            }
        }
    }
}

/// The bytes of a text or bytea datum, detoasted only when it is compressed or out of line.
///
/// # Safety
/// `d` is a non-null varlena datum, alive while the slice is used.
pub unsafe fn bytes_of<'a>(d: Datum) -> &'a [u8] {
    // SAFETY: the caller's varlena; one stored inline and uncompressed is read where it is.
    unsafe {
        let mut v = d.cast_mut_ptr::<pg_sys::varlena>();
        if pgrx::varlena::varatt_is_4b_c(v) || pgrx::varlena::varatt_is_1b_e(v) {
            v = pg_sys::pg_detoast_datum_packed(v);
        }
        let len = pgrx::varlena::varsize_any_exhdr(v);
        std::slice::from_raw_parts(pgrx::varlena::vardata_any(v).cast::<u8>(), len)
    }
}

/// The bytes of a varlena stored inline and uncompressed; None for one that
/// must be detoasted first.
///
/// # Safety
/// As for `bytes_of`.
pub unsafe fn inline_bytes<'a>(d: Datum) -> Option<&'a [u8]> {
    // SAFETY: the caller's varlena, read only where it is.
    unsafe {
        let v = d.cast_mut_ptr::<pg_sys::varlena>();
        if pgrx::varlena::varatt_is_4b_c(v) || pgrx::varlena::varatt_is_1b_e(v) {
            return None;
        }
        Some(bytes_of(d))
    }
}

/// Shapes the elements of a multi-dimensional array as nested arrays.
fn nest(flat: &mut impl Iterator<Item = Cell>, dims: &[c_int]) -> Cell {
    match dims.split_first() {
        None => Cell::Array(Vec::new()),
        Some((&n, [])) => Cell::Array(flat.take(n.max(0) as usize).collect()),
        Some((&n, rest)) => Cell::Array((0..n.max(0)).map(|_| nest(flat, rest)).collect()),
    }
}

/// `d`'s text through output function `f`.
///
/// # Safety
/// `f` is the output function of `d`'s type.
pub unsafe fn output(f: Oid, d: Datum) -> String {
    // SAFETY: `f` is the output function of `d`'s type; its C string is copied, then freed once.
    unsafe {
        let p = pg_sys::OidOutputFunctionCall(f, d);
        let s = CStr::from_ptr(p).to_string_lossy().into_owned();
        pg_sys::pfree(p.cast());
        s
    }
}

// ---------------------------------------------------------------- the run's settings

thread_local! {
    /// the settings the run's SQL sees, from its first statement to its end
    static RUN_SETTINGS: RefCell<Option<tenancy::Pinned>> = const { RefCell::new(None) };
}

/// Drops the run's settings. Called when a run ends.
pub fn end_run() {
    // The shared subtransaction first: the run's settings were pinned outside it.
    subxact::end_shared();
    RUN_SETTINGS.with(|s| s.borrow_mut().take());
}

#[cfg(test)]
mod tests {
    use super::{nest, Cell};

    #[test]
    fn arrays_nest_by_dimension() {
        let mut flat = (1..=6).map(Cell::Int);
        let got = nest(&mut flat, &[2, 3]);
        let row = |a, b, c| Cell::Array(vec![Cell::Int(a), Cell::Int(b), Cell::Int(c)]);
        assert_eq!(got, Cell::Array(vec![row(1, 2, 3), row(4, 5, 6)]));
        assert_eq!(nest(&mut std::iter::empty(), &[]), Cell::Array(vec![]));
    }
}
