//! The server's secret, kept outside the store: whoever can write the store cannot read or
//! change it. One 32-byte key file per store, found one way for everything that needs it:
//!
//! - the file named by `GENGXIN_KEY_FILE`, else
//! - beside a GeoPackage store, `<store>.key`, created (32 random bytes, mode 0600) by the first
//!   command that needs it (`serve`, `demo`, a write at the command line);
//! - a PostgreSQL store has no default: its servers may run on several machines and must share
//!   one key, so without `GENGXIN_KEY_FILE` (naming an existing file) writes are refused.
//!
//! From it, one subkey per purpose (HMAC-SHA256 of the purpose's name): the audit chain's HMAC,
//! the MAC of the chain heads anchored outside the store, and the sealing of TOTP secrets.
//! The anchored heads go to `GENGXIN_AUDIT_ANCHOR`, else `<store>.audit-heads` beside a
//! GeoPackage, else `<key file>.<database>.audit-heads` (one key file may serve several databases,
//! each with its own heads). A backup or copy of a store keeps verifying with
//! its key file and its heads file beside it (or named by the two variables).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use gengxin_auth::secret;

/// The variable naming the key file.
pub const KEY_FILE: &str = "GENGXIN_KEY_FILE";
/// The variable naming the file of anchored chain heads.
pub const ANCHOR_FILE: &str = "GENGXIN_AUDIT_ANCHOR";

/// The subkeys of one store's key, and where its chain heads are anchored.
#[derive(Clone)]
pub struct Keys {
    audit: [u8; 32],
    anchor: [u8; 32],
    totp: [u8; 32],
    heads: PathBuf,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("heads", &self.heads).finish()
    }
}

/// Why there is no key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "writes to a PostgreSQL store need a key outside the database: set {KEY_FILE} to a file of 32 random bytes that every server of it shares (head -c 32 /dev/urandom > FILE; chmod 600 FILE)"
    )]
    NoKeyFile,
    #[error("key file {}: {reason} (set {KEY_FILE} to a file of exactly 32 random bytes)", path.display())]
    File { path: PathBuf, reason: String },
}

/// The database a `postgres://` URL names, as a file-name part: one key file may serve several
/// databases, and each keeps its own anchored heads.
fn database_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let name = path.rsplit('/').next().unwrap_or_default();
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Keys {
    /// The keys of the store at `location` (a GeoPackage path or a `postgres://` URL), creating
    /// the key file of a GeoPackage store if it does not exist yet.
    pub fn for_store(location: &str) -> Result<Keys, KeyError> {
        let postgres = gengxin_store::is_postgres(location);
        let named = std::env::var_os(KEY_FILE)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let path = match (named, postgres) {
            (Some(p), _) => p,
            (None, true) => return Err(KeyError::NoKeyFile),
            (None, false) => PathBuf::from(format!("{location}.key")),
        };
        let master = read_or_create(&path, !postgres)?;
        let heads = match std::env::var_os(ANCHOR_FILE).filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None if postgres => PathBuf::from(format!(
                "{}.{}.audit-heads",
                path.display(),
                database_name(location)
            )),
            None => PathBuf::from(format!("{location}.audit-heads")),
        };
        Ok(Keys::new(&master, heads))
    }

    /// The keys derived from `master`, anchoring heads in `heads`.
    pub fn new(master: &[u8; 32], heads: PathBuf) -> Keys {
        Keys {
            audit: secret::derive(master, "gengxin audit chain"),
            anchor: secret::derive(master, "gengxin audit heads"),
            totp: secret::derive(master, "gengxin totp secrets"),
            heads,
        }
    }

    /// The audit chain's HMAC key.
    pub fn audit(&self) -> &[u8; 32] {
        &self.audit
    }

    /// The key of the anchored heads' MACs.
    pub fn anchor(&self) -> &[u8; 32] {
        &self.anchor
    }

    /// The append-only file of anchored chain heads.
    pub fn heads(&self) -> &Path {
        &self.heads
    }

    /// A user's TOTP secret as stored: sealed with the TOTP subkey, bound to the user id.
    pub fn seal_totp(&self, user_id: &str, secret_b32: &str) -> String {
        gengxin_auth::seal::seal(&self.totp, user_id, secret_b32)
    }

    /// A user's TOTP secret from its stored form (plain in an older store); `None` when it does
    /// not open (another key file, or altered).
    pub fn open_totp(&self, user_id: &str, stored: &str) -> Option<String> {
        gengxin_auth::seal::open(&self.totp, user_id, stored)
    }
}

fn read_or_create(path: &Path, create: bool) -> Result<[u8; 32], KeyError> {
    let err = |reason: String| KeyError::File {
        path: path.to_owned(),
        reason,
    };
    let mut bytes = Vec::new();
    match std::fs::File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).map_err(|e| err(e.to_string()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            return create_key(path).map_err(|e| err(e.to_string()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(err("does not exist".into()));
        }
        Err(e) => return Err(err(e.to_string())),
    }
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| err(format!("holds {} bytes", b.len())))
}

/// Writes a new key (never over an existing file: when two processes race, the second reads the
/// first one's key).
fn create_key(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let key = secret::new_key();
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(&key)?;
            f.sync_all()?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(path)?;
            bytes
                .try_into()
                .map_err(|_| std::io::Error::other("another process is writing it; try again"))
        }
        Err(e) => Err(e),
    }
}

impl crate::App {
    /// The TOTP secret of a user row, opened (`None` when the user has none).
    pub async fn totp_secret(
        &self,
        user: &gengxin_model::Feature,
    ) -> Result<Option<String>, crate::AppError> {
        let Some(stored) = user.get("totp_secret").as_str() else {
            return Ok(None);
        };
        let plain = self
            .keys()
            .await?
            .open_totp(&user.id, stored)
            .ok_or_else(|| {
                crate::AppError::Internal(format!(
                    "the TOTP secret of {} does not open with this key file",
                    user.id
                ))
            })?;
        Ok(Some(plain))
    }

    /// Sets a user row's TOTP secret, sealed.
    pub async fn set_totp_secret(
        &self,
        user: &mut gengxin_model::Feature,
        secret_b32: &str,
    ) -> Result<(), gengxin_store::StoreError> {
        let sealed = self.keys().await?.seal_totp(&user.id, secret_b32);
        user.properties.insert("totp_secret".into(), sealed.into());
        Ok(())
    }

    /// Seals the TOTP secrets an older store (or the demo generator, which must stay
    /// byte-deterministic and so cannot know the key) holds in plain text, each with its audit
    /// record, in one transaction. Run by `gengxin serve`. Returns how many were sealed.
    pub async fn seal_totp_secrets(&self) -> Result<usize, crate::AppError> {
        let users = self
            .store
            .query(gengxin_model::LayerId::Users, Default::default())
            .await?;
        let now = self.now();
        let mut rows = Vec::new();
        let mut records = Vec::new();
        for mut u in users {
            let Some(plain) = u
                .get("totp_secret")
                .as_str()
                .filter(|s| !gengxin_auth::seal::is_sealed(s))
                .map(str::to_owned)
            else {
                continue;
            };
            self.set_totp_secret(&mut u, &plain).await?;
            u.updated_at = now.max(u.updated_at);
            records.push(
                crate::audit::Record::system("account")
                    .on("users", &u.id)
                    .detail("TOTP secret sealed with the key file"),
            );
            rows.push(u);
        }
        let n = rows.len();
        if n > 0 {
            self.apply(
                gengxin_store::Edit {
                    update: vec![(gengxin_model::LayerId::Users, rows)],
                    ..Default::default()
                },
                records,
            )
            .await?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::database_name;

    #[test]
    fn each_database_of_one_key_file_has_its_own_heads() {
        assert_eq!(database_name("postgres://u@h:5432/city"), "city");
        assert_eq!(
            database_name("postgresql://u@h/gengxin_t_1?sslmode=require"),
            "gengxin_t_1"
        );
        assert_eq!(database_name("postgres://h/a.b%20c"), "a_b_20c");
    }
}
