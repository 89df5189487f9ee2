//! The web console's files, served by the front door under
//! `/_jsrt/console/` with no SQL: read once from the directory the install
//! put them in (`console/dist`, built by `make console`), each with the gzip
//! and brotli copies made at build time. Hashed asset names are cached for
//! good; the page itself is revalidated by its ETag. Every response carries
//! a Content-Security-Policy with no inline script and no eval.

use std::collections::HashMap;
use std::path::Path;

use sha2::Digest as _;

use super::response::Response;

/// Where the console lives in the URL space.
pub const PREFIX: &str = "/_jsrt/console";

/// Scripts only from this origin (no inline script, no eval); Monaco adds
/// style elements, hence inline styles; its workers are same-origin modules.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    font-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
    manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Asset {
    body: Vec<u8>,
    gzip: Option<Vec<u8>>,
    brotli: Option<Vec<u8>>,
    content_type: &'static str,
    etag: String,
}

#[derive(Default)]
pub struct Assets {
    files: HashMap<String, Asset>,
}

impl Assets {
    /// Reads every file under `dir`; `x.gz` and `x.br` are the compressed copies of `x`.
    pub fn load(dir: &Path) -> std::io::Result<Assets> {
        let mut paths = Vec::new();
        walk(dir, dir, &mut paths)?;
        let mut files = HashMap::new();
        for rel in &paths {
            if rel.ends_with(".gz") || rel.ends_with(".br") {
                continue;
            }
            let body = std::fs::read(dir.join(rel))?;
            let twin = |ext: &str| {
                let p = format!("{rel}.{ext}");
                paths
                    .contains(&p)
                    .then(|| std::fs::read(dir.join(&p)))
                    .transpose()
            };
            let digest = sha2::Sha256::digest(&body);
            let etag = format!(
                "\"{}\"",
                digest[..12]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            );
            files.insert(
                rel.clone(),
                Asset {
                    gzip: twin("gz")?,
                    brotli: twin("br")?,
                    content_type: content_type(rel),
                    etag,
                    body,
                },
            );
        }
        Ok(Assets { files })
    }

    /// The answer to GET or HEAD of `path` (the whole request path, under
    /// PREFIX), given the request's headers; None for a path outside PREFIX.
    pub fn respond(&self, path: &str, headers: &[(String, String)]) -> Option<Response> {
        let rest = path.strip_prefix(PREFIX)?;
        let rel = match rest {
            // (relative asset URLs in the page need the trailing slash)
            "" => return Some(redirect(&format!("{PREFIX}/"))),
            "/" | "/index.html" => "index.html",
            r => r.strip_prefix('/')?,
        };
        if self.files.is_empty() {
            return Some(with_security(Response::error(
                404,
                "the web console is not installed: build it with `make console` and install the extension again",
                &[],
            )));
        }
        let Some(asset) = self.files.get(rel) else {
            return Some(with_security(Response::error(
                404,
                &format!("no console file {rel}"),
                &[],
            )));
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let immutable = rel.starts_with("assets/");
        let mut out = vec![
            ("etag".to_string(), asset.etag.clone()),
            (
                "cache-control".into(),
                if immutable {
                    "public, max-age=31536000, immutable".into()
                } else {
                    "no-cache".into()
                },
            ),
            ("vary".into(), "Accept-Encoding".into()),
        ];
        if header("if-none-match").is_some_and(|v| etag_matches(v, &asset.etag)) {
            return Some(with_security(Response {
                status: 304,
                headers: out,
                body: Vec::new(),
            }));
        }
        let accepted = header("accept-encoding").unwrap_or("");
        let (body, encoding) = match (&asset.brotli, &asset.gzip) {
            (Some(b), _) if accepts(accepted, "br") => (b, Some("br")),
            (_, Some(g)) if accepts(accepted, "gzip") => (g, Some("gzip")),
            _ => (&asset.body, None),
        };
        out.push(("content-type".into(), asset.content_type.into()));
        if let Some(e) = encoding {
            out.push(("content-encoding".into(), e.into()));
        }
        Some(with_security(Response {
            status: 200,
            headers: out,
            body: body.clone(),
        }))
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

fn redirect(to: &str) -> Response {
    with_security(Response {
        status: 308,
        headers: vec![("location".into(), to.into())],
        body: Vec::new(),
    })
}

fn with_security(mut r: Response) -> Response {
    r.headers
        .push(("content-security-policy".into(), CSP.into()));
    r.headers
        .push(("x-content-type-options".into(), "nosniff".into()));
    r.headers
        .push(("referrer-policy".into(), "no-referrer".into()));
    r
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "ttf" => "font/ttf",
        "woff2" => "font/woff2",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether an If-None-Match value names `etag` (weak or strong, or `*`).
fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// Whether Accept-Encoding takes `coding` with a q-value above 0 (RFC 9110 12.5.3).
fn accepts(header: &str, coding: &str) -> bool {
    let mut star = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .filter_map(|v| v.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        if name == coding {
            return q > 0.0;
        }
        if name == "*" {
            star = Some(q > 0.0);
        }
    }
    star.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("jsrt-assets-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("assets")).unwrap();
        std::fs::write(d.join("index.html"), "<!doctype html>page").unwrap();
        std::fs::write(d.join("assets/app-ABC.js"), "plain").unwrap();
        std::fs::write(d.join("assets/app-ABC.js.gz"), "gzipped").unwrap();
        std::fs::write(d.join("assets/app-ABC.js.br"), "brotli").unwrap();
        d
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn get<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn serves_the_page_and_hashed_assets_with_their_caching() {
        let d = dir("page");
        let a = Assets::load(&d).unwrap();
        let page = a.respond("/_jsrt/console/", &[]).unwrap();
        assert_eq!(page.status, 200);
        assert_eq!(page.body, b"<!doctype html>page");
        assert_eq!(get(&page, "cache-control"), Some("no-cache"));
        assert_eq!(get(&page, "content-type"), Some("text/html; charset=utf-8"));
        assert!(
            get(&page, "content-security-policy").is_some_and(|c| c.contains("script-src 'self';"))
        );
        let js = a.respond("/_jsrt/console/assets/app-ABC.js", &[]).unwrap();
        assert_eq!(js.body, b"plain");
        assert_eq!(
            get(&js, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(a.respond("/_jsrt/console", &[]).unwrap().status, 308);
        assert_eq!(
            a.respond("/_jsrt/console/nope.js", &[]).unwrap().status,
            404
        );
        assert!(a.respond("/_jsrt/consoleX", &[]).is_none());
        assert!(a.respond("/other", &[]).is_none());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn negotiates_the_encoding_and_revalidates() {
        let d = dir("encoding");
        let a = Assets::load(&d).unwrap();
        let path = "/_jsrt/console/assets/app-ABC.js";
        let br = a
            .respond(path, &h(&[("accept-encoding", "gzip, deflate, br")]))
            .unwrap();
        assert_eq!(
            (br.body.as_slice(), get(&br, "content-encoding")),
            (&b"brotli"[..], Some("br"))
        );
        let gz = a
            .respond(path, &h(&[("accept-encoding", "br;q=0, gzip")]))
            .unwrap();
        assert_eq!(get(&gz, "content-encoding"), Some("gzip"));
        let none = a
            .respond(path, &h(&[("accept-encoding", "identity")]))
            .unwrap();
        assert_eq!(
            (none.body.as_slice(), get(&none, "content-encoding")),
            (&b"plain"[..], None)
        );
        let star = a.respond(path, &h(&[("accept-encoding", "*")])).unwrap();
        assert_eq!(get(&star, "content-encoding"), Some("br"));
        let etag = get(&none, "etag").unwrap().to_string();
        let again = a
            .respond(path, &h(&[("if-none-match", &format!("W/{etag}"))]))
            .unwrap();
        assert_eq!((again.status, again.body.len()), (304, 0));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn says_when_it_is_not_installed() {
        let a = Assets::default();
        let r = a.respond("/_jsrt/console/", &[]).unwrap();
        assert_eq!(r.status, 404);
        assert!(String::from_utf8_lossy(&r.body).contains("make console"));
    }
}
