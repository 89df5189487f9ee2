//! `ctx.progress(done, total?, message?)`: how far a long run has got,
//! readable from any session while it goes on (`jsrt.running()`, through
//! shared memory) and kept in its history row (`metrics.progress`).

use rquickjs::function::Opt;
use rquickjs::{Ctx, Function, Object, Value};
use serde::Serialize;

use crate::engine::watchdog;

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Progress {
    pub done: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Characters of a progress message kept.
const MAX_MESSAGE: usize = 200;

/// Err says which argument is wrong and why.
pub fn check(done: f64, total: Option<f64>, message: Option<String>) -> Result<Progress, String> {
    if !done.is_finite() || done < 0.0 {
        return Err(format!(
            "ctx.progress: done must be a finite number of 0 or more, not {done}"
        ));
    }
    if let Some(t) = total {
        if !t.is_finite() || t < 0.0 {
            return Err(format!(
                "ctx.progress: total must be a finite number of 0 or more, not {t}"
            ));
        }
    }
    // (a NUL would fail the run's record: jsonb cannot hold one)
    let message = message.map(|m| {
        m.chars()
            .take(MAX_MESSAGE)
            .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
            .collect()
    });
    Ok(Progress {
        done,
        total,
        message,
    })
}

pub fn make<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let f = Function::new(
        ctx.clone(),
        |ctx: Ctx<'js>,
         done: Value<'js>,
         total: Opt<Value<'js>>,
         message: Opt<Value<'js>>|
         -> rquickjs::Result<()> {
            let _host = watchdog::Host::enter();
            let number = |v: &Value<'js>, name: &str| -> rquickjs::Result<Option<f64>> {
                if v.is_undefined() || v.is_null() {
                    return Ok(None);
                }
                v.as_number().map(Some).ok_or_else(|| {
                    rquickjs::Exception::throw_type(
                        &ctx,
                        &format!("ctx.progress: {name} must be a number"),
                    )
                })
            };
            let done = number(&done, "done")?.ok_or_else(|| {
                rquickjs::Exception::throw_type(&ctx, "ctx.progress: done must be a number")
            })?;
            let total = match total.0 {
                Some(t) => number(&t, "total")?,
                None => None,
            };
            let message = match message.0 {
                None => None,
                Some(m) if m.is_undefined() || m.is_null() => None,
                Some(message) => Some(
                    message
                        .as_string()
                        .and_then(|s| s.to_string().ok())
                        .ok_or_else(|| {
                            rquickjs::Exception::throw_type(
                                &ctx,
                                "ctx.progress: message must be a string",
                            )
                        })?,
                ),
            };
            let p = check(done, total, message)
                .map_err(|e| rquickjs::Exception::throw_range(&ctx, &e))?;
            crate::shmem::live::progress(p.done, p.total, p.message.as_deref());
            super::set_progress(p);
            Ok(())
        },
    )?;
    // A function is an object: this cannot fail.
    f.into_value()
        .into_object()
        .ok_or_else(|| rquickjs::Error::new_from_js("function", "object"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_its_arguments() {
        assert_eq!(
            check(3.0, Some(10.0), Some("x".into())),
            Ok(Progress {
                done: 3.0,
                total: Some(10.0),
                message: Some("x".into())
            })
        );
        assert!(check(f64::NAN, None, None)
            .unwrap_err()
            .contains("done must be"));
        assert!(check(-1.0, None, None).is_err());
        assert!(check(1.0, Some(f64::INFINITY), None)
            .unwrap_err()
            .contains("total must be"));
        let long = "é".repeat(500);
        assert_eq!(
            check(0.0, None, Some(long)).map(|p| p.message.map(|m| m.chars().count())),
            Ok(Some(200))
        );
        assert_eq!(
            check(0.0, None, Some("a\0b".into())).map(|p| p.message),
            Ok(Some("a\u{FFFD}b".into()))
        );
    }
}
