//! Builds the web application in `web/` (TypeScript, Vue, Vite) into `$OUT_DIR/dist`, which
//! `src/lib.rs` embeds. Needs Node.js and npm; `npm ci` runs when `web/node_modules` is missing or
//! older than `web/package-lock.json`. Cargo reruns this only when a source of the page changes.
//! Vite strips types without checking them, so the build does not need the API types generated
//! from `web/openapi.json`; `npm run typecheck` (run by `scripts/test`) generates and checks them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let web = web.canonicalize().unwrap_or(web);
    for f in [
        "src",
        "public",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(f).display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("dist");

    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = web.join("node_modules/.package-lock.json");
    if modified(&installed) < modified(&web.join("package-lock.json")) {
        npm(&web, &["ci", "--no-audit", "--no-fund"]);
    }
    npm(
        &web,
        &[
            "run",
            "build",
            "--",
            "--outDir",
            out.to_str().expect("UTF-8 OUT_DIR"),
            "--emptyOutDir",
            "--logLevel",
            "warn",
        ],
    );
    assert!(
        out.join("index.html").is_file(),
        "the web build wrote no index.html"
    );
}

fn npm(dir: &Path, args: &[&str]) {
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run npm ({e}): building Gengxin's web application needs Node.js 20+ and \
                 npm (Debian: apt-get install nodejs npm)"
            )
        });
    assert!(
        status.success(),
        "`npm {}` failed in {}",
        args.join(" "),
        dir.display()
    );
}
