//! ctx.secrets.get(name): the tenant's secret, or null. The run remembers
//! every value it read, and the pipeline redacts them from what the run
//! leaves behind (logs, errors, output).

use pgrx::spi::Spi;
use rquickjs::{Ctx, Object, Value};

use super::super::sandbox::Watch;
use super::js::{as_owner, method, no_row_is_none, text};

pub fn make<'js>(ctx: &Ctx<'js>, watch: &std::rc::Rc<Watch>) -> rquickjs::Result<Object<'js>> {
    let secrets = Object::new(ctx.clone())?;
    method(ctx, &secrets, watch, "get", |ctx, _, a| {
        const WHAT: &str = "ctx.secrets.get";
        let name = text(ctx, a.first(), WHAT, "the name must be a string")?;
        let tenant = super::tenant();
        let value = as_owner(ctx, WHAT, || {
            no_row_is_none(Spi::get_one_with_args::<String>(
                "SELECT value FROM jsrt.secrets WHERE tenant_id = $1::uuid AND name = $2",
                &[tenant.as_str().into(), name.as_str().into()],
            ))
        })?;
        match value {
            Some(v) => {
                super::add_secret(&v);
                Ok(rquickjs::String::from_str(ctx.clone(), &v)?.into_value())
            }
            None => Ok(Value::new_null(ctx.clone())),
        }
    })?;
    super::js::freeze(ctx, &secrets);
    Ok(secrets)
}
