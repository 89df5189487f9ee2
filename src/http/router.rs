//! Which endpoint script serves a request: paths like `/orders/:id` (a
//! `:name` segment matches any one segment and becomes `params.name`), and
//! methods. A path that matches no route is a 404; one whose routes take
//! other methods is a 405 with their Allow list. HEAD goes where GET goes.
//! When several routes match, a literal segment wins over a parameter, from
//! the left.

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone)]
pub struct Route<T> {
    segments: Vec<Segment>,
    /// upper-case; empty means every method
    methods: Vec<String>,
    pub target: T,
}

#[derive(Debug, PartialEq)]
pub enum Found<'a, T> {
    Route {
        target: &'a T,
        params: Vec<(String, String)>,
    },
    /// the path exists, not for this method: these are its methods
    WrongMethod(Vec<String>),
    Nothing,
}

/// The routes of one tenant.
#[derive(Debug)]
pub struct Router<T> {
    routes: Vec<Route<T>>,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router { routes: Vec::new() }
    }
}

pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

impl<T> Router<T> {
    /// Adds `pattern` (an http_path) for `methods`; a pattern with an empty `:` name is refused.
    pub fn add(&mut self, pattern: &str, methods: &[String], target: T) -> Result<(), String> {
        let mut segments = Vec::new();
        for s in split(pattern) {
            segments.push(match s.strip_prefix(':') {
                Some("") => return Err(format!("\"{pattern}\": a ':' segment needs a name")),
                Some(name) => Segment::Param(name.to_string()),
                None => Segment::Literal(decode(s).unwrap_or_else(|| s.to_string())),
            });
        }
        let methods = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
        self.routes.push(Route {
            segments,
            methods,
            target,
        });
        // Most specific first: a literal before a parameter at the first place they differ.
        self.routes.sort_by(|a, b| {
            let key = |r: &Route<T>| -> Vec<u8> {
                r.segments
                    .iter()
                    .map(|s| u8::from(matches!(s, Segment::Param(_))))
                    .collect()
            };
            key(a).cmp(&key(b))
        });
        Ok(())
    }

    /// The route for `method` and `path` (percent-encoded, as sent); Err for a path that does not decode.
    pub fn find(&self, method: &str, path: &str) -> Result<Found<'_, T>, String> {
        let parts = split(path)
            .map(|s| {
                decode(s).ok_or_else(|| {
                    format!("the path segment \"{s}\" is not valid percent-encoded UTF-8")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut allowed = BTreeSet::new();
        for route in &self.routes {
            let Some(params) = matches(&route.segments, &parts) else {
                continue;
            };
            let takes = |m: &str| route.methods.is_empty() || route.methods.iter().any(|x| x == m);
            if takes(method) || (method == "HEAD" && takes("GET")) {
                return Ok(Found::Route {
                    target: &route.target,
                    params,
                });
            }
            if route.methods.is_empty() {
                allowed.extend(METHODS.iter().map(|m| m.to_string()));
            } else {
                allowed.extend(route.methods.iter().cloned());
            }
        }
        if allowed.is_empty() {
            return Ok(Found::Nothing);
        }
        if allowed.contains("GET") {
            allowed.insert("HEAD".into());
        }
        allowed.insert("OPTIONS".into());
        Ok(Found::WrongMethod(allowed.into_iter().collect()))
    }
}

/// Whether two http_paths with their methods would serve the same requests:
/// the same segments, literal for literal (decoded) and parameter for
/// parameter whatever its name, and a method in common (none listed means
/// every method). `/orders/:id` and `/orders/new` do not clash: the literal
/// wins, as `find` says.
pub fn clash(a: &str, a_methods: &[String], b: &str, b_methods: &[String]) -> bool {
    let shape = |p: &str| -> Vec<Option<String>> {
        split(p)
            .map(|s| match s.strip_prefix(':') {
                Some(_) => None,
                None => Some(decode(s).unwrap_or_else(|| s.to_string())),
            })
            .collect()
    };
    let overlap = a_methods.is_empty()
        || b_methods.is_empty()
        || a_methods
            .iter()
            .any(|m| b_methods.iter().any(|n| n.eq_ignore_ascii_case(m)));
    overlap && shape(a) == shape(b)
}

/// Err says why `path` may not be an http_path: the server answers
/// `/healthz` and `/metrics` itself, keeps `/_jsrt/` for its management API
/// and console, and reads a path under `/t/` as `/t/{tenant}/...`, so a
/// keyed request there would never reach the route.
pub fn reserved(path: &str) -> Result<(), String> {
    let segments: Vec<String> = split(path)
        .map(|s| decode(s).unwrap_or_else(|| s.to_string()))
        .collect();
    let why = match segments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["healthz"] | ["metrics"] => "the server answers it itself",
        ["_jsrt", ..] => {
            "everything under /_jsrt/ is kept for the server's management API and console"
        }
        ["t", _, ..] => {
            "a path under /t/ is read as /t/{tenant}/...; use the path without the prefix"
        }
        _ => return Ok(()),
    };
    Err(format!("http_path \"{path}\" is reserved: {why}"))
}

/// For a public endpoint, `/t/{tenant}/rest` names the tenant: (tenant, "/rest").
pub fn tenant_prefix(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/t/")?;
    let (tenant, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let tenant = decode(tenant).filter(|t| !t.is_empty())?;
    Some((tenant, format!("/{rest}")))
}

/// The segments of a path; a trailing slash does not count.
fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn matches(pattern: &[Segment], parts: &[String]) -> Option<Vec<(String, String)>> {
    if pattern.len() != parts.len() {
        return None;
    }
    let mut params = Vec::new();
    for (seg, part) in pattern.iter().zip(parts) {
        match seg {
            Segment::Literal(l) if l == part => {}
            Segment::Literal(_) => return None,
            Segment::Param(name) => params.push((name.clone(), part.clone())),
        }
    }
    Some(params)
}

/// Percent-decodes one segment; None unless the result is UTF-8.
pub fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router<&'static str> {
        let mut r = Router::default();
        let m = |ms: &[&str]| ms.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        r.add("/orders/:id", &m(&["GET", "PUT"]), "order").unwrap();
        r.add("/orders/new", &m(&["POST"]), "new").unwrap();
        r.add("/orders", &m(&["GET", "POST"]), "orders").unwrap();
        r.add("/hooks/:provider/:event", &m(&[]), "hook").unwrap();
        r.add("/", &m(&["GET"]), "root").unwrap();
        r
    }

    fn target(
        r: &Router<&'static str>,
        method: &str,
        path: &str,
    ) -> Option<(&'static str, Vec<(String, String)>)> {
        match r.find(method, path).unwrap() {
            Found::Route { target, params } => Some((*target, params)),
            _ => None,
        }
    }

    #[test]
    fn routes_with_params_and_precedence() {
        let r = router();
        assert_eq!(
            target(&r, "GET", "/orders/42"),
            Some(("order", vec![("id".into(), "42".into())]))
        );
        assert_eq!(
            target(&r, "GET", "/orders/a%20b"),
            Some(("order", vec![("id".into(), "a b".into())]))
        );
        // a literal wins over a parameter; a trailing slash does not count
        assert_eq!(target(&r, "POST", "/orders/new/"), Some(("new", vec![])));
        assert_eq!(target(&r, "GET", "/orders"), Some(("orders", vec![])));
        assert_eq!(target(&r, "HEAD", "/orders/7").map(|t| t.0), Some("order"));
        assert_eq!(
            target(&r, "DELETE", "/hooks/stripe/paid").map(|t| t.1.len()),
            Some(2)
        );
        assert_eq!(target(&r, "GET", "/").map(|t| t.0), Some("root"));
    }

    #[test]
    fn not_found_and_method_not_allowed() {
        let r = router();
        assert_eq!(r.find("GET", "/nothing").unwrap(), Found::Nothing);
        assert_eq!(r.find("GET", "/orders/1/2").unwrap(), Found::Nothing);
        assert_eq!(
            r.find("DELETE", "/orders/1").unwrap(),
            Found::WrongMethod(vec![
                "GET".into(),
                "HEAD".into(),
                "OPTIONS".into(),
                "PUT".into()
            ])
        );
        // /orders/new is POST only, but /orders/:id takes GET
        assert_eq!(
            target(&r, "GET", "/orders/new"),
            Some(("order", vec![("id".into(), "new".into())]))
        );
        assert!(r.find("GET", "/orders/%ff").is_err());
        assert!(Router::<()>::default().add("/a/:", &[], ()).is_err());
    }

    #[test]
    fn clashes_are_same_shape_and_a_common_method() {
        let m = |ms: &[&str]| ms.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let get = m(&["GET"]);
        assert!(clash(
            "/orders/:oid",
            &get,
            "/orders/:id",
            &m(&["GET", "PUT"])
        ));
        assert!(clash("/orders", &get, "/orders/", &get));
        assert!(clash("/a/:x/b", &[], "/a/:y/b", &m(&["POST"])));
        assert!(clash("/caf%C3%A9", &get, "/caf\u{e9}", &get));
        // other methods, a literal beside a parameter, other lengths
        assert!(!clash("/orders/:oid", &m(&["POST"]), "/orders/:id", &get));
        assert!(!clash("/orders/new", &get, "/orders/:id", &get));
        assert!(!clash("/a/:x/c", &get, "/a/b/:y", &get));
        assert!(!clash("/orders", &get, "/orders/:id", &get));
        assert!(!clash("/Orders", &get, "/orders", &get));
        assert!(clash("/", &get, "/", &m(&["get"])));
    }

    #[test]
    fn the_servers_own_paths_are_reserved() {
        for bad in [
            "/healthz",
            "/metrics/",
            "/_jsrt",
            "/_jsrt/console",
            "/t/acme/x",
            "/t/x",
        ] {
            let e = reserved(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("reserved"), "{e}");
        }
        for ok in [
            "/",
            "/t",
            "/healthz/deep",
            "/metrics2",
            "/jsrt/x",
            "/orders/:id",
            "/x/_jsrt",
        ] {
            assert_eq!(reserved(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn tenant_prefix_names_the_tenant() {
        assert_eq!(
            tenant_prefix("/t/acme/orders/1"),
            Some(("acme".into(), "/orders/1".into()))
        );
        assert_eq!(
            tenant_prefix("/t/acme%20co"),
            Some(("acme co".into(), "/".into()))
        );
        assert_eq!(tenant_prefix("/t//x"), None);
        assert_eq!(tenant_prefix("/orders"), None);
    }
}
