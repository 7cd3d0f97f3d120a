//! Tables: CSV and Excel `.xlsx`, one header row, then one record per row. Geometry comes from a
//! pair of longitude/latitude columns or one WKT column, when the table has them; coordinates in
//! a table declare no CRS, so importing them needs `--crs`.

use std::path::Path;

use calamine::{Data, Reader};

use crate::{Attr, Dataset, Format, IoError, ReadOptions, Record};

const LON: &[&str] = &["lon", "lng", "long", "longitude", "x", "经度"];
const LAT: &[&str] = &["lat", "latitude", "y", "纬度"];
const WKT: &[&str] = &["wkt", "geometry", "geom", "the_geom", "shape"];

pub fn read_csv(path: &Path, opts: &ReadOptions) -> Result<Dataset, IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::file(path, e))?;
    let text = super::decode_text(path, &bytes, opts.encoding)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| IoError::file(path, format!("unreadable CSV header: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for (i, r) in reader.records().enumerate() {
        let r = r.map_err(|e| IoError::file(path, format!("row {}: {e}", i + 2)))?;
        rows.push(
            r.iter()
                .map(|c| {
                    if c.is_empty() {
                        Attr::Null
                    } else {
                        Attr::Text(c.to_owned())
                    }
                })
                .collect(),
        );
    }
    let encoding = opts.encoding.map_or("UTF-8", |e| e.name());
    build(path, Format::Csv, header, rows, Some(encoding.to_owned()))
}

pub fn read_xlsx(path: &Path, opts: &ReadOptions) -> Result<Dataset, IoError> {
    check_workbook_sizes(path, opts)?;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(path)
        .map_err(|e| IoError::file(path, format!("not a readable .xlsx workbook: {e}")))?;
    let sheet = match &opts.source_layer {
        Some(s) => s.clone(),
        None => book
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| IoError::file(path, "the workbook has no sheet"))?,
    };
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| IoError::file(path, format!("sheet {sheet:?}: {e}")))?;
    let mut it = range.rows();
    let header: Vec<String> = it
        .next()
        .map(|r| r.iter().map(|c| c.to_string().trim().to_owned()).collect())
        .unwrap_or_default();
    let rows = it
        .filter(|r| r.iter().any(|c| *c != Data::Empty))
        .map(|r| r.iter().map(cell).collect())
        .collect();
    build(path, Format::Xlsx, header, rows, None)
}

/// An .xlsx is a zip: refuse a workbook whose parts would inflate beyond the limits.
fn check_workbook_sizes(path: &Path, opts: &ReadOptions) -> Result<(), IoError> {
    let f = std::fs::File::open(path).map_err(|e| IoError::file(path, e))?;
    let mut z = zip::ZipArchive::new(f)
        .map_err(|e| IoError::file(path, format!("not a readable .xlsx workbook: {e}")))?;
    let mut total = 0u64;
    for i in 0..z.len() {
        let e = z
            .by_index(i)
            .map_err(|e| IoError::file(path, format!("not a readable .xlsx workbook: {e}")))?;
        total += e.size();
        if e.size() > (e.compressed_size().max(1) * opts.limits.max_zip_ratio).max(1 << 20)
            || total > opts.limits.max_bytes
        {
            return Err(IoError::file(
                path,
                format!(
                    "part {:?} inflates beyond the limits; refused as a possible zip bomb",
                    e.name().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

fn cell(c: &Data) -> Attr {
    match c {
        Data::Empty | Data::Error(_) => Attr::Null,
        Data::Int(i) => Attr::Int(*i),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Attr::Int(*f as i64),
        Data::Float(f) => Attr::Real(*f),
        Data::Bool(b) => Attr::Bool(*b),
        Data::String(s) => Attr::Text(s.clone()),
        Data::DateTime(d) => {
            let days = d.as_f64().floor() as i64;
            let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid");
            match base.checked_add_signed(chrono::Duration::days(days)) {
                Some(date) => Attr::Date(date.format("%Y-%m-%d").to_string()),
                None => Attr::Null,
            }
        }
        Data::DateTimeIso(s) => Attr::Date(s.chars().take(10).collect()),
        Data::DurationIso(s) => Attr::Text(s.clone()),
    }
}

fn find(header: &[String], names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
}

/// The WKT column: the last one named like one (Gengxin's export appends `wkt`, or `wkt_1` when
/// the data has a column `wkt` of its own).
fn find_wkt(header: &[String]) -> Option<usize> {
    header.iter().rposition(|h| {
        let h = h.to_ascii_lowercase();
        WKT.contains(&h.as_str())
            || h.strip_prefix("wkt_")
                .is_some_and(|n| n.parse::<u32>().is_ok())
    })
}

fn build(
    path: &Path,
    format: Format,
    header: Vec<String>,
    rows: Vec<Vec<Attr>>,
    encoding: Option<String>,
) -> Result<Dataset, IoError> {
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(IoError::file(path, "the first row must name the columns"));
    }
    let wkt = find_wkt(&header);
    let lonlat = find(&header, LON).zip(find(&header, LAT));
    let mut records = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let at = |j: usize| row.get(j).cloned().unwrap_or(Attr::Null);
        let geometry = if let Some(w) = wkt {
            match at(w).to_text() {
                None => None,
                Some(text) => Some(parse_wkt(&text).map_err(|e| {
                    IoError::file(path, format!("row {}: column {}: {e}", i + 2, header[w]))
                })?),
            }
        } else if let Some((x, y)) = lonlat {
            match (number(&at(x)), number(&at(y))) {
                (Some(x), Some(y)) => Some(geo_types::Point::new(x, y).into()),
                (None, None) => None,
                _ => {
                    return Err(IoError::file(
                        path,
                        format!(
                            "row {}: {} and {} must both be numbers",
                            i + 2,
                            header[lonlat.expect("set").0],
                            header[lonlat.expect("set").1]
                        ),
                    ));
                }
            }
        } else {
            None
        };
        let attrs = header
            .iter()
            .enumerate()
            .filter(|(j, _)| Some(*j) != wkt && lonlat.is_none_or(|(x, y)| *j != x && *j != y))
            .map(|(j, h)| (h.clone(), at(j)))
            .collect();
        records.push(Record {
            geometry,
            attrs,
            problems: Vec::new(),
        });
    }
    let fields = header
        .iter()
        .enumerate()
        .filter(|(j, _)| Some(*j) != wkt && lonlat.is_none_or(|(x, y)| *j != x && *j != y))
        .map(|(_, h)| h.clone())
        .collect();
    Ok(Dataset {
        format,
        records,
        crs: None,
        declared_crs: None,
        encoding,
        fields,
    })
}

fn number(a: &Attr) -> Option<f64> {
    match a {
        Attr::Int(i) => Some(*i as f64),
        Attr::Real(r) => Some(*r),
        Attr::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn parse_wkt(text: &str) -> Result<geo_types::Geometry<f64>, String> {
    use std::str::FromStr;
    let w = wkt::Wkt::<f64>::from_str(text.trim()).map_err(|e| format!("not WKT: {e}"))?;
    geo_types::Geometry::try_from(w).map_err(|e| format!("unsupported WKT: {e}"))
}
