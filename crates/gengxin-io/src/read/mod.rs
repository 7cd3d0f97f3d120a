//! Readers: one per format, each returning a [`Dataset`] with geometry in the source CRS.

mod archive;
mod geojson;
mod gpkg;
mod shp;
mod table;

use std::path::Path;

use crate::{Dataset, Format, IoError, ReadOptions};

pub use archive::unzip;

/// Reads a file of a format Gengxin knows, after checking its size against the limits.
pub fn read(path: &Path, format: Format, opts: &ReadOptions) -> Result<Dataset, IoError> {
    let meta = std::fs::metadata(path).map_err(|e| IoError::file(path, e))?;
    if !meta.is_file() {
        return Err(IoError::file(path, "not a file"));
    }
    if meta.len() > opts.limits.max_bytes {
        return Err(IoError::file(
            path,
            format!(
                "the file is {} bytes, more than the import limit of {} bytes",
                meta.len(),
                opts.limits.max_bytes
            ),
        ));
    }
    let ds = match format {
        Format::GeoJson => geojson::read(path, opts)?,
        Format::Shapefile => shp::read(path, opts)?,
        Format::GeoPackage => gpkg::read(path, opts)?,
        Format::Csv => table::read_csv(path, opts)?,
        Format::Xlsx => table::read_xlsx(path, opts)?,
        Format::OsmPbf => crate::osm::read(path, opts)?,
    };
    if ds.records.len() > opts.limits.max_features {
        return Err(IoError::file(
            path,
            format!(
                "{} features, more than the import limit of {}",
                ds.records.len(),
                opts.limits.max_features
            ),
        ));
    }
    Ok(ds)
}

/// Decodes text bytes: with the given encoding, else strictly as UTF-8 (a BOM is dropped).
/// Non-UTF-8 text without a declared encoding is refused with what to pass: never guessed.
pub(crate) fn decode_text(
    path: &Path,
    bytes: &[u8],
    encoding: Option<&'static encoding_rs::Encoding>,
) -> Result<String, IoError> {
    match encoding {
        Some(enc) => Ok(enc.decode_with_bom_removal(bytes).0.into_owned()),
        None => {
            let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
            String::from_utf8(bytes.to_vec()).map_err(|e| {
                IoError::file(
                    path,
                    format!(
                        "the text is not UTF-8 (first bad byte at offset {}); if it is Chinese text saved by Excel or ArcGIS it is probably GBK: pass --encoding gbk",
                        e.utf8_error().valid_up_to()
                    ),
                )
            })
        }
    }
}
