//! `ctx.commit()`: commits what a queued one-off run has done so far and
//! goes on in a new transaction, as COMMIT does in a procedure. Only an
//! executor's own transaction can be committed this way: synchronous,
//! embedded and HTTP runs write inside their caller's transaction, and
//! event and scheduled runs retry as a whole.

use rquickjs::{Ctx, Function, Object};

use crate::engine::{sandbox, sql, watchdog};

pub fn make<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let f = Function::new(ctx.clone(), |ctx: Ctx<'js>| -> rquickjs::Result<()> {
        let _host = watchdog::Host::enter();
        if let Some(trigger) = super::commit_refused() {
            return Err(rquickjs::Exception::throw_message(
                &ctx,
                &format!(
                    "ctx.commit() is allowed only in queued one-off runs (jsrt.execute_async), whose transaction an executor owns; this {trigger} run writes in one transaction that commits or rolls back as a whole"
                ),
            ));
        }
        super::count_call("ctx.commit", super::Api::Other)
            .map_err(|e| rquickjs::Exception::throw_range(&ctx, &e))?;
        if watchdog::passed()
            || sandbox::postgres_wants_out()
            || crate::shmem::board::cancel_requested()
        {
            return Err(rquickjs::Exception::throw_message(
                &ctx,
                "ctx.commit: the run is being stopped; nothing more was committed",
            ));
        }
        // The run's settings live in a GUC nest level of this transaction: closed
        // before it ends, opened again by the next statement.
        sql::end_run();
        match crate::xact::commit_and_continue() {
            Ok(()) => {
                super::committed();
                Ok(())
            }
            Err(c) => {
                let message = format!(
                    "ctx.commit: the commit failed, and the work since the last commit was rolled back: {}",
                    c.message
                );
                // The run ends failed even if the script catches this.
                super::set_commit_failure(message.clone());
                Err(rquickjs::Exception::throw_message(&ctx, &message))
            }
        }
    })?;
    // A function is an object: this cannot fail.
    f.into_value()
        .into_object()
        .ok_or_else(|| rquickjs::Error::new_from_js("function", "object"))
}
