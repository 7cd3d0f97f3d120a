//! Helpers shared by the binary's test files (each uses some of them).
#![allow(dead_code)]

use std::process::{Command, Stdio};

/// Runs `gengxin` with `stdin` on its standard input; its trimmed standard output, or a panic
/// with its standard error.
pub fn run(args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gengxin"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env("GENGXIN_KEY_FILE", key_file())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gengxin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The key file of every store the tests make (every command a test runs names it): a
/// PostgreSQL store has no default one, stores whose content must hash alike need one key (the
/// audit chain is keyed), and commands on one store must agree on its key.
pub fn key_file() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("gengxin-test.key");
    if !path.is_file() {
        // Written under a name of its own, then renamed: test binaries, and the tests of one
        // binary, make it at once (every one writes the same bytes).
        let unique = format!(
            "key.{}.{:?}",
            std::process::id(),
            std::thread::current().id()
        );
        let tmp = path.with_extension(unique.replace(['(', ')'], ""));
        std::fs::write(&tmp, [0x5a; 32]).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// Signs in to the server at `base` as a demo account: its password and the current code of its
/// TOTP secret, derived here as the demo documents it (`gengxin_demo::demo_totp_secret` with the
/// default seed). A code is good once, and tests sign in as the same account on one store
/// within 30 seconds: a refused code is followed by the next step's (one step of drift is
/// accepted). Returns the last answer.
pub fn demo_sign_in(base: &str, username: &str, password: &str) -> reqwest::blocking::Response {
    let secret = gengxin_demo::demo_totp_secret(gengxin_demo::DEFAULT_SEED, username);
    let now = chrono::Utc::now().timestamp() as u64;
    let mut answer = None;
    for step in 0..2 {
        let code = gengxin_auth::totp::code_at(&secret, now + 30 * step).unwrap();
        let r = reqwest::blocking::Client::new()
            .post(format!("{base}/api/auth/login"))
            .json(&serde_json::json!({"username": username, "password": password, "totp": code}))
            .send()
            .unwrap();
        if r.status() != reqwest::StatusCode::UNAUTHORIZED {
            return r;
        }
        answer = Some(r);
    }
    answer.unwrap()
}
