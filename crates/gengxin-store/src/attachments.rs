//! Attachment files. Their metadata is a row of the `attachments` layer; their bytes live beside
//! the store in a content-addressed folder, `<store file>.attachments/<sha256>`, written to a
//! temporary name and renamed, so a file is either complete or absent. Files are written before
//! their rows are committed: a crash can leave an unreferenced file, never a row without bytes.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The folder of one store's attachment files.
#[derive(Debug, Clone)]
pub struct AttachmentDir(PathBuf);

impl AttachmentDir {
    /// The folder beside a store file: `<file>.attachments`.
    pub fn beside(store_file: &Path) -> Self {
        let mut name = store_file.as_os_str().to_owned();
        name.push(".attachments");
        AttachmentDir(PathBuf::from(name))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Stores bytes and returns their SHA-256 (hex), which names the file.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha = format!("{:x}", Sha256::digest(bytes));
        let target = self.0.join(&sha);
        if target.is_file() {
            return Ok(sha);
        }
        std::fs::create_dir_all(&self.0)?;
        let tmp = self.0.join(format!(".{sha}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        Ok(sha)
    }

    /// The bytes stored under this SHA-256 (the caller checks them against it).
    pub fn get(&self, sha: &str) -> std::io::Result<Vec<u8>> {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a SHA-256",
            ));
        }
        std::fs::read(self.0.join(sha))
    }
}
