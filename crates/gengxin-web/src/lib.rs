//! The web application, embedded: the files Vite built from `web/` (see `build.rs`), served by
//! the HTTP crate at `/`. Nothing is fetched from a CDN.

use include_dir::{Dir, include_dir};

static DIST: Dir<'static> = include_dir!("$OUT_DIR/dist");

/// The built file at `path` (relative, e.g. `index.html` or `assets/index-3f2a.js`) and its
/// media type.
pub fn file(path: &str) -> Option<(&'static [u8], &'static str)> {
    let f = DIST.get_file(path)?;
    Some((f.contents(), media_type(path)))
}

fn media_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_and_its_assets_are_embedded() {
        let (html, ty) = super::file("index.html").expect("index.html");
        assert_eq!(ty, "text/html; charset=utf-8");
        let html = std::str::from_utf8(html).unwrap();
        // Every script and stylesheet the page names is embedded too.
        let mut refs = 0;
        for part in html.split("./assets/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(super::file(&format!("assets/{name}")).is_some(), "{name}");
            refs += 1;
        }
        assert!(refs >= 2, "{html}");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no CDN"
        );
    }
}
