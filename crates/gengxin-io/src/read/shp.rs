//! Shapefiles: loose (`.shp` with `.dbf`, `.shx`, `.prj`, `.cpg` beside it) or one `.zip`.
//!
//! The attribute encoding comes from `--encoding`, else the `.cpg`, else the dBase language
//! driver byte (GBK for code page 936), else strict UTF-8: text that is not UTF-8 is refused with
//! a message saying so, never decoded by a guess.

use std::path::{Path, PathBuf};

use dbase::FieldValue;
use gengxin_engine::crs::Crs;

use crate::{Attr, Dataset, Format, IoError, ReadOptions, Record, display_name, encoding_by_name};

pub fn read(path: &Path, opts: &ReadOptions) -> Result<Dataset, IoError> {
    let is_zip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if !is_zip {
        return read_shp(path, opts);
    }
    let dir = tempfile::tempdir().map_err(|e| IoError::file(path, e))?;
    let files = super::unzip(path, dir.path(), &opts.limits)?;
    let shps: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e.eq_ignore_ascii_case("shp")))
        .collect();
    let chosen = match (shps.as_slice(), &opts.source_layer) {
        ([], _) => return Err(IoError::file(path, "the archive holds no .shp file")),
        ([one], None) => *one,
        (many, Some(name)) => many
            .iter()
            .find(|f| f.file_stem().is_some_and(|s| s.to_string_lossy() == *name))
            .copied()
            .ok_or_else(|| IoError::file(path, format!("the archive holds no {name}.shp")))?,
        (many, None) => {
            let names: Vec<String> = many.iter().map(|f| display_name(f)).collect();
            return Err(IoError::file(
                path,
                format!(
                    "the archive holds several shapefiles ({}); pass --source-layer with one name",
                    names.join(", ")
                ),
            ));
        }
    };
    read_shp(chosen, opts)
}

fn sidecar(shp: &Path, ext: &str) -> Option<PathBuf> {
    [ext.to_owned(), ext.to_ascii_uppercase()]
        .into_iter()
        .map(|e| shp.with_extension(e))
        .find(|p| p.exists())
}

fn read_shp(shp: &Path, opts: &ReadOptions) -> Result<Dataset, IoError> {
    let dbf = sidecar(shp, "dbf")
        .ok_or_else(|| IoError::file(shp, "its attribute file (.dbf) is missing beside it"))?;
    let (crs, declared) = match sidecar(shp, "prj") {
        Some(prj) => {
            let wkt = std::fs::read_to_string(&prj).map_err(|e| IoError::file(&prj, e))?;
            match Crs::from_wkt(&wkt) {
                Some(c) => (Some(c), None),
                None => (None, Some(wkt_name(&wkt))),
            }
        }
        None => (None, None),
    };
    let cpg = sidecar(shp, "cpg");
    let encoding = match (opts.encoding, &cpg) {
        (Some(e), _) => Some(e),
        (None, Some(cpg)) => {
            let label = std::fs::read_to_string(cpg).map_err(|e| IoError::file(cpg, e))?;
            Some(encoding_by_name(&label).ok_or_else(|| {
                IoError::file(
                    cpg,
                    format!(
                        "names the encoding {:?}, which Gengxin does not know; pass --encoding",
                        label.trim()
                    ),
                )
            })?)
        }
        (None, None) => language_driver(&dbf)?,
    };
    let reader = dbase::ReaderBuilder::new();
    let reader = match encoding {
        Some(e) => reader.with_encoding(dbase::encoding::EncodingRs::from(e)),
        None => reader.with_encoding(dbase::encoding::Unicode),
    };
    let not_utf8 = |e: &dyn std::fmt::Display| {
        let text = e.to_string().to_ascii_lowercase();
        (encoding.is_none() && text.contains("utf-8")).then(|| {
            IoError::file(
                &dbf,
                format!(
                    "attribute text is not UTF-8 and there is no {} beside it to say what it is; if it is Chinese it is probably GBK: pass --encoding gbk or add a .cpg file containing GBK",
                    display_name(&shp.with_extension("cpg"))
                ),
            )
        })
    };
    let mut table = reader.open(&dbf).map_err(|e| {
        not_utf8(&e).unwrap_or_else(|| IoError::file(&dbf, format!("unreadable dBase file: {e}")))
    })?;
    let fields: Vec<String> = table.fields().iter().map(|f| f.name().to_owned()).collect();
    let mut rows = Vec::new();
    for (i, r) in table.iter_records().enumerate() {
        let r = r.map_err(|e| {
            not_utf8(&e).unwrap_or_else(|| IoError::file(&dbf, format!("record {}: {e}", i + 1)))
        })?;
        let attrs = fields
            .iter()
            .map(|n| (n.clone(), r.get(n).map(attr).unwrap_or(Attr::Null)))
            .collect();
        rows.push(attrs);
    }
    let mut shapes = shapefile::ShapeReader::from_path(shp)
        .map_err(|e| IoError::file(shp, format!("unreadable shapefile: {e}")))?;
    let mut records = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter();
    for (i, s) in shapes.iter_shapes().enumerate() {
        let s = s.map_err(|e| IoError::file(shp, format!("shape {}: {e}", i + 1)))?;
        let geometry = match s {
            shapefile::Shape::NullShape => None,
            s => Some(
                geo_types::Geometry::<f64>::try_from(s)
                    .map_err(|e| IoError::file(shp, format!("shape {}: {e:?}", i + 1)))?,
            ),
        };
        let attrs = rows.next().ok_or_else(|| {
            IoError::file(
                shp,
                format!("has more shapes than its .dbf has records ({i})"),
            )
        })?;
        records.push(Record {
            geometry,
            attrs,
            problems: Vec::new(),
        });
    }
    if rows.next().is_some() {
        return Err(IoError::file(
            shp,
            "its .dbf has more records than it has shapes",
        ));
    }
    Ok(Dataset {
        format: Format::Shapefile,
        records,
        crs,
        declared_crs: declared,
        encoding: Some(encoding.map_or("UTF-8", |e| e.name()).to_owned()),
        fields,
    })
}

/// The encoding named by the dBase header's language driver id (byte 29), if it names one.
fn language_driver(dbf: &Path) -> Result<Option<&'static encoding_rs::Encoding>, IoError> {
    use std::io::Read;
    let mut head = [0u8; 32];
    let mut f = std::fs::File::open(dbf).map_err(|e| IoError::file(dbf, e))?;
    f.read_exact(&mut head)
        .map_err(|_| IoError::file(dbf, "too short to be a dBase file"))?;
    Ok(match head[29] {
        0x4d | 0x7a => Some(encoding_rs::GBK),
        0x78 => Some(encoding_rs::BIG5),
        _ => None,
    })
}

/// The name of the outermost system of a WKT definition, for messages.
pub fn wkt_name(wkt: &str) -> String {
    wkt.split('"').nth(1).unwrap_or("(unnamed)").to_owned()
}

fn attr(v: &FieldValue) -> Attr {
    match v {
        FieldValue::Character(Some(s)) | FieldValue::Memo(s) => Attr::Text(s.trim_end().to_owned()),
        FieldValue::Numeric(Some(n)) => number(*n),
        FieldValue::Float(Some(n)) => number(f64::from(*n)),
        FieldValue::Double(n) | FieldValue::Currency(n) => Attr::Real(*n),
        FieldValue::Integer(i) => Attr::Int(i64::from(*i)),
        FieldValue::Logical(Some(b)) => Attr::Bool(*b),
        FieldValue::Date(Some(d)) => {
            Attr::Date(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }
        FieldValue::DateTime(dt) => {
            let d = dt.date();
            Attr::Date(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }
        _ => Attr::Null,
    }
}

fn number(n: f64) -> Attr {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Attr::Int(n as i64)
    } else {
        Attr::Real(n)
    }
}
