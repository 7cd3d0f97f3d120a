//! Readers: one per format, each returning a [`Dataset`] with geometry in the source CRS.
//!
//! Memory: GeoJSON is streamed ([`stream`] hands over one feature at a time, read from a
//! buffered file, so a FeatureCollection of any size holds one feature's JSON at once). The other
//! formats are read whole into a [`Dataset`] first — their libraries read record by record, but
//! the CRS, a Shapefile's `.dbf` encoding, a zip's entries and a sheet's header come first, and
//! OpenStreetMap ways need all their nodes — so their size is bounded by [`crate::Limits`]
//! (`max_bytes`, `max_features`) rather than streamed.

mod archive;
mod geojson;
mod gpkg;
mod shp;
mod table;

use std::path::Path;

use crate::{Dataset, Format, IoError, ReadOptions, Record};

pub use archive::unzip;

/// Reads a file of a format Gengxin knows, after checking its size against the limits.
pub fn read(path: &Path, format: Format, opts: &ReadOptions) -> Result<Dataset, IoError> {
    check_size(path, opts)?;
    let ds = match format {
        Format::GeoJson => geojson::read(path, opts)?,
        Format::Shapefile => shp::read(path, opts)?,
        Format::GeoPackage => gpkg::read(path, opts)?,
        Format::Csv => table::read_csv(path, opts)?,
        Format::Xlsx => table::read_xlsx(path, opts)?,
        Format::OsmPbf => crate::osm::read(path, opts)?,
    };
    check_count(path, ds.records.len(), opts)?;
    Ok(ds)
}

/// Whether [`stream`] reads `format` record by record (else it reads the file whole first).
pub fn streams(format: Format) -> bool {
    format == Format::GeoJson
}

/// Reads a file record by record, handing each to `each` in file order; answers the dataset's
/// description (CRS, encoding, fields) without records. Formats that do not [`streams`] are
/// read whole, then handed over record by record.
pub fn stream(
    path: &Path,
    format: Format,
    opts: &ReadOptions,
    each: &mut dyn FnMut(Record) -> Result<(), IoError>,
) -> Result<Dataset, IoError> {
    if !streams(format) {
        let mut ds = read(path, format, opts)?;
        for r in std::mem::take(&mut ds.records) {
            each(r)?;
        }
        return Ok(ds);
    }
    check_size(path, opts)?;
    let mut n = 0;
    geojson::stream(path, opts, &mut |r| {
        n += 1;
        check_count(path, n, opts)?;
        each(r)
    })
}

fn check_count(path: &Path, n: usize, opts: &ReadOptions) -> Result<(), IoError> {
    if n > opts.limits.max_features {
        return Err(IoError::file(
            path,
            format!(
                "{n} features, more than the import limit of {}",
                opts.limits.max_features
            ),
        ));
    }
    Ok(())
}

fn check_size(path: &Path, opts: &ReadOptions) -> Result<(), IoError> {
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
    Ok(())
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
