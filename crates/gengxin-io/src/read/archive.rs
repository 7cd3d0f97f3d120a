//! Safe extraction of a zip archive (a zipped Shapefile): entry names may not escape the target
//! directory, the total size and each entry's compression ratio are bounded (zip bombs), and
//! sizes are enforced while inflating, not trusted from the headers.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{IoError, Limits};

/// Extracts `zip` into `dir` and returns the extracted files.
pub fn unzip(zip: &Path, dir: &Path, limits: &Limits) -> Result<Vec<PathBuf>, IoError> {
    let file = std::fs::File::open(zip).map_err(|e| IoError::file(zip, e))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| IoError::file(zip, format!("not a readable zip archive: {e}")))?;
    if archive.len() > 10_000 {
        return Err(IoError::file(
            zip,
            format!("{} entries; at most 10000", archive.len()),
        ));
    }
    let mut total = 0u64;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| IoError::file(zip, format!("entry {i}: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| IoError::file(zip, format!("entry {i}: {e}")))?
            .into_owned();
        let Some(rel) = entry.enclosed_name().map(|p| p.to_path_buf()) else {
            return Err(IoError::file(
                zip,
                format!("entry {name:?} points outside the archive; refused"),
            ));
        };
        if entry.is_dir() {
            continue;
        }
        if entry.is_symlink() {
            return Err(IoError::file(
                zip,
                format!("entry {name:?} is a symbolic link; refused"),
            ));
        }
        let target = dir.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| IoError::file(zip, e))?;
        }
        let compressed = entry.compressed_size().max(1);
        let allowed = (compressed.saturating_mul(limits.max_zip_ratio))
            .max(1 << 20)
            .min(limits.max_bytes.saturating_sub(total));
        let mut dst = std::fs::File::create(&target).map_err(|e| IoError::file(zip, e))?;
        let written = std::io::copy(&mut (&mut entry).take(allowed + 1), &mut dst)
            .map_err(|e| IoError::file(zip, format!("entry {name:?}: {e}")))?;
        if written > allowed {
            return Err(IoError::file(
                zip,
                format!(
                    "entry {name:?} inflates beyond {allowed} bytes (compression ratio or total size over the limit); refused as a possible zip bomb"
                ),
            ));
        }
        total += written;
        out.push(target);
    }
    Ok(out)
}
