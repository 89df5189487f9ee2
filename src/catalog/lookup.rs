//! One row read through a unique index, with no query to parse and plan: in
//! a new connection, planning the scripts query cost more than the whole run
//! it served (the planner opens every index of jsrt.scripts). A jsrt table's
//! row is read so only when the caller provably sees it as the query would
//! (`Table::shows`); otherwise the caller runs the query.

use std::ffi::CStr;

use pgrx::pg_sys::{self, Datum, Oid};

use crate::nodes::{elements, node_as};

/// The oid of relation jsrt.`name` (a table or an index), if it exists.
pub fn relation(name: &CStr) -> Option<Oid> {
    // SAFETY: catalog lookups inside a transaction; missing_ok, so no ERROR for a missing schema.
    let oid = unsafe {
        let jsrt = pg_sys::get_namespace_oid(c"jsrt".as_ptr(), true);
        if jsrt == pg_sys::InvalidOid {
            return None;
        }
        pg_sys::get_relname_relid(name.as_ptr(), jsrt)
    };
    (oid != pg_sys::InvalidOid).then_some(oid)
}

/// A new snapshot, as SPI's read-write mode takes for each query: the command
/// counter advanced (the transaction's own writes seen), a new snapshot under
/// READ COMMITTED, the transaction's under REPEATABLE READ. Active while held.
pub struct Snapshot(pg_sys::Snapshot);

impl Snapshot {
    pub fn take() -> Snapshot {
        // SAFETY: inside a transaction on the main thread; the copy PushActiveSnapshot makes is
        // popped by Drop, also while unwinding (and by the transaction's abort otherwise).
        unsafe {
            pg_sys::CommandCounterIncrement();
            pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
            Snapshot(pg_sys::GetActiveSnapshot())
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        // SAFETY: ours is the top of the active stack: nothing pushed while it was held stays.
        unsafe { pg_sys::PopActiveSnapshot() };
    }
}

/// A column of a table, found by name.
#[derive(Clone, Copy)]
pub struct Column {
    attno: i16,
    typid: Oid,
    collation: Oid,
}

impl Column {
    pub fn typid(&self) -> Oid {
        self.typid
    }
}

/// The function `=` on a column of type `typid` calls in the query, which a
/// scan key on it calls too; None for a type looked up by no key here. A
/// `Key` is of the column's type (the callers check the columns' types).
fn equality(typid: Oid) -> Option<Oid> {
    match typid {
        pg_sys::UUIDOID => Some(pg_sys::F_UUID_EQ),
        pg_sys::TEXTOID | pg_sys::VARCHAROID => Some(pg_sys::F_TEXTEQ),
        pg_sys::NAMEOID => Some(pg_sys::F_NAMEEQ),
        _ => None,
    }
    .map(Oid::from)
}

/// A value to look a row up by.
pub enum Key<'a> {
    Uuid(&'a [u8; 16]),
    Text(&'a str),
    /// a value of type name (catalogs)
    Name(&'a CStr),
}

/// A table opened as a query would open it: AccessShareLock, kept to the
/// transaction's end.
pub struct Table(pg_sys::Relation);

impl Table {
    pub fn open(relid: Oid) -> Table {
        // SAFETY: an existing relation's oid, inside a transaction; closed by Drop.
        Table(unsafe { pg_sys::table_open(relid, pg_sys::AccessShareLock as _) })
    }

    fn relid(&self) -> Oid {
        // SAFETY: an open relation.
        unsafe { (*self.0).rd_id }
    }

    /// Column `name`, if the table has it.
    pub fn column(&self, name: &str) -> Option<Column> {
        // SAFETY: the open relation's tuple descriptor, read in place.
        unsafe {
            let desc = (*self.0).rd_att;
            (0..(*desc).natts as usize).find_map(|i| {
                let a = (*desc).attrs.as_ptr().add(i);
                let found = !(*a).attisdropped
                    && CStr::from_ptr((*a).attname.data.as_ptr()).to_bytes() == name.as_bytes();
                found.then(|| Column {
                    attno: (*a).attnum,
                    typid: (*a).atttypid,
                    collation: (*a).attcollation,
                })
            })
        }
    }

    /// Index jsrt.`name`, if it is what a lookup by `columns` needs: a valid,
    /// ready, unique btree index of this table on exactly those columns (no
    /// expression, no predicate), with their collations, and operator families
    /// whose equality is the query's `=` (the function `equality` names). Anything else (a failed
    /// concurrent build, an index a DBA changed): None, and the caller asks the query.
    pub fn unique_index(&self, name: &CStr, columns: &[Column]) -> Option<Oid> {
        let oid = relation(name)?;
        // SAFETY: catalog reads inside a transaction; the index is opened (locked as the scan
        // will) only once it is known to be an index, and closed before this returns.
        unsafe {
            if pg_sys::get_rel_relkind(oid) as u8 != pg_sys::RELKIND_INDEX {
                return None;
            }
            let index = pg_sys::index_open(oid, pg_sys::AccessShareLock as _);
            let form = &*(*index).rd_index;
            let keys = std::slice::from_raw_parts(
                form.indkey.values.as_ptr(),
                form.indnkeyatts.max(0) as usize,
            );
            let fits = form.indrelid == self.relid()
                && form.indisunique
                && form.indisvalid
                && form.indisready
                && form.indislive
                && (*(*index).rd_rel).relam == pg_sys::BTREE_AM_OID
                && keys.len() == columns.len()
                && pg_sys::heap_attisnull(
                    (*index).rd_indextuple,
                    pg_sys::Anum_pg_index_indexprs as _,
                    std::ptr::null_mut(),
                )
                && pg_sys::heap_attisnull(
                    (*index).rd_indextuple,
                    pg_sys::Anum_pg_index_indpred as _,
                    std::ptr::null_mut(),
                )
                && columns.iter().zip(keys).enumerate().all(|(n, (c, &key))| {
                    key == c.attno && *(*index).rd_indcollation.add(n) == c.collation && {
                        // the family's equality is the function the scan key compares with
                        let (family, input) =
                            (*(*index).rd_opfamily.add(n), *(*index).rd_opcintype.add(n));
                        let eq = pg_sys::get_opfamily_member(
                            family,
                            input,
                            input,
                            pg_sys::BTEqualStrategyNumber as _,
                        );
                        eq != pg_sys::InvalidOid
                            && Some(pg_sys::get_opcode(eq)) == equality(c.typid)
                    }
                });
            pg_sys::index_close(index, pg_sys::NoLock as _);
            fits.then_some(oid)
        }
    }

    /// Whether the current user sees a row whose column `tenant_col` holds
    /// `tenant` just as a query would:
    /// - USAGE on the table's schema and SELECT on the table granted;
    /// - no permission hook but ours, and ours not acting (outside script SQL);
    /// - and either no row-level security for this user, or only permissive
    ///   policies, no policy hook, `row_security` on, and among the policies
    ///   for SELECT that apply to this user, each either `true` or exactly
    ///   `tenant_col = jsrt.tenant_id()` (with EXECUTE on that function and
    ///   on uuid's `=`, as evaluating it needs), and `tenant` the current tenant.
    ///
    /// Anything else: false, and the caller asks the query, which applies
    /// whatever there is.
    pub fn shows(&self, tenant_col: Column, tenant: &[u8; 16]) -> bool {
        let relid = self.relid();
        // SAFETY: plain catalog checks inside a transaction, with noError: none raises.
        unsafe {
            let (user, schema) = (pg_sys::GetUserId(), (*(*self.0).rd_rel).relnamespace);
            if pg_sys::pg_namespace_aclcheck(schema, user, pg_sys::ACL_USAGE as _)
                != pg_sys::AclResult::ACLCHECK_OK
                || pg_sys::pg_class_aclcheck(relid, user, pg_sys::ACL_SELECT as _)
                    != pg_sys::AclResult::ACLCHECK_OK
                || crate::guard::permission_hooks_act()
            {
                return false;
            }
            match pg_sys::check_enable_rls(relid, pg_sys::InvalidOid, true) as u32 {
                pg_sys::CheckEnableRlsResult::RLS_NONE
                | pg_sys::CheckEnableRlsResult::RLS_NONE_ENV => return true,
                _ => {}
            }
            // With row_security off the query fails rather than filter: let it.
            if !pg_sys::row_security
                || (*std::ptr::addr_of!(pg_sys::row_security_policy_hook_permissive)).is_some()
                || (*std::ptr::addr_of!(pg_sys::row_security_policy_hook_restrictive)).is_some()
                || crate::tenancy::current().as_ref() != Some(tenant)
            {
                return false;
            }
            let rs = (*self.0).rd_rsdesc;
            if rs.is_null() {
                return false;
            }
            let mut shown = false;
            for c in elements((*rs).policies) {
                let p = &*c.ptr_value.cast::<pg_sys::RowSecurityPolicy>();
                if !p.permissive {
                    return false;
                }
                if !matches!(p.polcmd as u8, b'*' | b'r') || !applies_to(p.roles, user) {
                    continue;
                }
                // The query evaluates every policy that applies: each must be one known here.
                if !(is_true(p.qual.cast()) || is_tenant_qual(p.qual.cast(), tenant_col, user)) {
                    return false;
                }
                shown = true;
            }
            shown
        }
    }

    /// `f` of the first row of unique index `index` whose columns equal
    /// `keys`, as `snapshot` sees it (None: the catalog snapshot, for
    /// catalogs); None when there is none.
    pub fn find<R>(
        &self,
        index: Oid,
        keys: &[(Column, Key<'_>)],
        snapshot: Option<&Snapshot>,
        f: impl FnOnce(&Row<'_>) -> R,
    ) -> Option<R> {
        // The keys' values must outlive the scan: text is made here, uuids are the caller's.
        let mut scan_keys: Vec<pg_sys::ScanKeyData> = Vec::with_capacity(keys.len());
        // SAFETY: scan keys over live values; the scan uses `snapshot`, active while held
        // (or registers the catalog snapshot itself), and ends before this returns; the tuple is read by `f` while the scan holds its buffer.
        unsafe {
            for (col, key) in keys {
                // Compared as the query's `=` on the column compares (`unique_index` checked the
                // index's family has it), in the column's collation (the index's too).
                let equality = equality(col.typid)?;
                let arg = match key {
                    Key::Uuid(u) => Datum::from(u.as_ptr()),
                    Key::Text(t) => Datum::from(pg_sys::cstring_to_text_with_len(
                        t.as_ptr().cast(),
                        t.len() as _,
                    )),
                    Key::Name(n) => Datum::from(n.as_ptr()),
                };
                let mut k = pg_sys::ScanKeyData::default();
                pg_sys::ScanKeyEntryInitialize(
                    &mut k,
                    0,
                    col.attno,
                    pg_sys::BTEqualStrategyNumber as _,
                    pg_sys::InvalidOid,
                    col.collation,
                    equality,
                    arg,
                );
                scan_keys.push(k);
            }
            let scan = pg_sys::systable_beginscan(
                self.0,
                index,
                true,
                snapshot.map_or(std::ptr::null_mut(), |s| s.0),
                scan_keys.len() as _,
                scan_keys.as_mut_ptr(),
            );
            let tuple = pg_sys::systable_getnext(scan);
            let out = (!tuple.is_null()).then(|| f(&Row { table: self, tuple }));
            pg_sys::systable_endscan(scan);
            out
        }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: opened by `open`; the lock stays to the transaction's end, as a query's does.
        unsafe { pg_sys::table_close(self.0, pg_sys::NoLock as _) };
    }
}

/// A row found by `Table::find`, read in place.
pub struct Row<'a> {
    table: &'a Table,
    tuple: pg_sys::HeapTuple,
}

impl Row<'_> {
    fn datum(&self, col: Column) -> Option<Datum> {
        let mut null = false;
        // SAFETY: the scan's current tuple, with its table's descriptor.
        let d = unsafe {
            pg_sys::heap_getattr(
                self.tuple,
                col.attno as _,
                (*self.table.0).rd_att,
                &mut null,
            )
        };
        (!null).then_some(d)
    }

    /// The column as its type's text output, as `::text` gives it; None for NULL
    /// (and for text not in UTF-8, which the caller's query then reads).
    pub fn text(&self, col: Column) -> Option<Option<String>> {
        let Some(d) = self.datum(col) else {
            return Some(None);
        };
        // SAFETY: the column's own type's output function, on its non-null value (detoasted by
        // it, with the active snapshot); the C string is copied, then freed.
        unsafe {
            let (mut out, mut varlena) = (pg_sys::InvalidOid, false);
            pg_sys::getTypeOutputInfo(col.typid, &mut out, &mut varlena);
            let c = pg_sys::OidOutputFunctionCall(out, d);
            let s = CStr::from_ptr(c).to_str().ok().map(str::to_string);
            pg_sys::pfree(c.cast());
            s.map(Some)
        }
    }

    /// An int4 column; None for NULL.
    pub fn int(&self, col: Column) -> Option<i32> {
        self.datum(col).map(|d| d.value() as i32)
    }

    /// A uuid column's bytes; None for NULL.
    pub fn uuid(&self, col: Column) -> Option<[u8; 16]> {
        // SAFETY: a uuid datum points at its 16 bytes.
        self.datum(col)
            .map(|d| unsafe { *d.cast_mut_ptr::<[u8; 16]>() })
    }

    /// The system column xmin: the transaction that wrote the row.
    pub fn xmin(&self) -> u32 {
        // SAFETY: the scan's current tuple.
        unsafe { pg_sys::HeapTupleHeaderGetRawXmin((*self.tuple).t_data) }.into_inner()
    }
}

/// Whether a policy's roles include PUBLIC or a role `user` has the privileges of.
///
/// # Safety
/// `roles` is a policy's detoasted oid array.
unsafe fn applies_to(roles: *mut pg_sys::ArrayType, user: Oid) -> bool {
    let Some(roles) = std::ptr::NonNull::new(roles) else {
        return false;
    };
    // SAFETY: the caller's array; a policy's roles have no NULLs. Membership is a syscache read.
    unsafe {
        let mut a = pgrx::array::RawArray::from_ptr(roles);
        a.nulls().is_none()
            && a.data::<Oid>().as_ref().iter().any(|&r| {
                r == Oid::from(pg_sys::ACL_ID_PUBLIC) || pg_sys::has_privs_of_role(user, r)
            })
    }
}

/// Whether `qual` is the constant `true`.
///
/// # Safety
/// `qual` is null or a valid expression node.
unsafe fn is_true(qual: *mut pg_sys::Node) -> bool {
    // SAFETY: the caller's node, read in place.
    unsafe {
        node_as::<pg_sys::Const>(qual, pg_sys::NodeTag::T_Const).is_some_and(|c| {
            (*c).consttype == pg_sys::BOOLOID && !(*c).constisnull && (*c).constvalue.value() != 0
        })
    }
}

/// Whether `qual` is exactly `<tenant_col> = jsrt.tenant_id()` on uuids, and
/// `user` may execute both functions, as the query's evaluating it checks.
///
/// # Safety
/// `qual` is null or a valid expression node.
unsafe fn is_tenant_qual(qual: *mut pg_sys::Node, tenant_col: Column, user: Oid) -> bool {
    // SAFETY: the caller's expression, read in place; catalog lookups by oid.
    unsafe {
        let Some(op) = node_as::<pg_sys::OpExpr>(qual, pg_sys::NodeTag::T_OpExpr) else {
            return false;
        };
        let args = elements((*op).args);
        let may = |f: Oid| {
            pg_sys::pg_proc_aclcheck(f, user, pg_sys::ACL_EXECUTE as _)
                == pg_sys::AclResult::ACLCHECK_OK
        };
        let eq = pg_sys::get_opcode((*op).opno);
        if args.len() != 2 || eq != Oid::from(pg_sys::F_UUID_EQ) || !may(eq) {
            return false;
        }
        let var = node_as::<pg_sys::Var>(args[0].ptr_value.cast(), pg_sys::NodeTag::T_Var);
        let func =
            node_as::<pg_sys::FuncExpr>(args[1].ptr_value.cast(), pg_sys::NodeTag::T_FuncExpr);
        let (Some(var), Some(func)) = (var, func) else {
            return false;
        };
        if (*var).varattno != tenant_col.attno
            || (*var).varlevelsup != 0
            || !elements((*func).args).is_empty()
        {
            return false;
        }
        let name = pg_sys::get_func_name((*func).funcid);
        !name.is_null()
            && may((*func).funcid)
            && CStr::from_ptr(name) == c"tenant_id"
            && pg_sys::get_func_namespace((*func).funcid)
                == pg_sys::get_namespace_oid(c"jsrt".as_ptr(), true)
    }
}
