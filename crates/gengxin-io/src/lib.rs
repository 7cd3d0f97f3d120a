//! Data in and out of a Gengxin store: the file formats city GIS offices use.
//!
//! Reading ([`read`]) turns a file — GeoJSON, Shapefile (loose or zipped), GeoPackage, CSV,
//! Excel `.xlsx`, OpenStreetMap `.osm.pbf` — into a [`Dataset`]: source records with their
//! geometry still in the source CRS and their attributes as found. Importing ([`import`]) decides
//! the CRS (never guessed), converts to EPSG:4490, validates and optionally repairs every
//! geometry ([`validate`]), maps attributes to a layer's fields ([`mapping`]) and writes
//! everything in one store transaction with a record of the import that can be undone.
//! Exporting ([`export`]) writes a layer or a query result back out.
//!
//! Every refusal names the file and says what to do. Hostile input is bounded by [`Limits`].

pub mod custom;
pub mod export;
pub mod import;
pub mod mapping;
pub mod osm;
pub mod read;
pub mod sheet;
pub mod validate;

use std::path::{Path, PathBuf};

use gengxin_engine::crs::Crs;
use geo_types::Geometry;

/// One attribute value as found in a source file.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Null,
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
    /// `YYYY-MM-DD`
    Date(String),
}

impl Attr {
    /// The value as text, as a CSV cell would show it.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Attr::Null => None,
            Attr::Text(s) | Attr::Date(s) => Some(s.clone()),
            Attr::Int(i) => Some(i.to_string()),
            Attr::Real(r) => Some(r.to_string()),
            Attr::Bool(b) => Some(b.to_string()),
        }
    }
}

/// One feature (or table row) of a source file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Geometry in the source CRS; `None` for a table row or a feature without geometry.
    pub geometry: Option<Geometry<f64>>,
    /// Attributes in source order.
    pub attrs: Vec<(String, Attr)>,
    /// Problems the reader saw that the geometry no longer shows (an unclosed ring is closed
    /// by the time it is a `geo` polygon).
    pub problems: Vec<String>,
}

impl Record {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// The formats Gengxin reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    Shapefile,
    GeoPackage,
    Csv,
    Xlsx,
    OsmPbf,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::GeoJson => "GeoJSON",
            Format::Shapefile => "Shapefile",
            Format::GeoPackage => "GeoPackage",
            Format::Csv => "CSV",
            Format::Xlsx => "Excel",
            Format::OsmPbf => "OSM PBF",
        }
    }

    /// The format of a file, from its name.
    pub fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let ext = |e: &str| name.ends_with(e);
        Some(if ext(".geojson") || ext(".json") {
            Format::GeoJson
        } else if ext(".shp") || ext(".zip") {
            Format::Shapefile
        } else if ext(".gpkg") {
            Format::GeoPackage
        } else if ext(".csv") {
            Format::Csv
        } else if ext(".xlsx") {
            Format::Xlsx
        } else if ext(".osm.pbf") || ext(".pbf") {
            Format::OsmPbf
        } else {
            return None;
        })
    }

    /// Parses a format name given by a user (`geojson`, `csv`, `xlsx`, `shp`, `gpkg`).
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s.to_ascii_lowercase().as_str() {
            "geojson" | "json" => Format::GeoJson,
            "shp" | "shapefile" | "zip" => Format::Shapefile,
            "gpkg" | "geopackage" => Format::GeoPackage,
            "csv" => Format::Csv,
            "xlsx" | "excel" => Format::Xlsx,
            "pbf" | "osm" => Format::OsmPbf,
            _ => return None,
        })
    }
}

/// A source file read into memory.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub format: Format,
    pub records: Vec<Record>,
    /// The CRS the file declares (`.prj`, GeoPackage SRS, GeoJSON's WGS 84), if any.
    pub crs: Option<Crs>,
    /// What the file declares when it is a CRS Gengxin does not know (for the message).
    pub declared_crs: Option<String>,
    /// The text encoding used to decode it, where the format has a choice.
    pub encoding: Option<String>,
    /// Attribute names in source order, as declared by the file (or first seen).
    pub fields: Vec<String>,
}

/// Bounds that keep a hostile file from exhausting the machine.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest input file, and largest total of a zip's uncompressed entries.
    pub max_bytes: u64,
    /// Largest ratio of uncompressed to compressed size of one zip entry.
    pub max_zip_ratio: u64,
    /// Most features in one import.
    pub max_features: usize,
    /// Most coordinates in one geometry.
    pub max_coords: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 30,
            max_zip_ratio: 200,
            max_features: 5_000_000,
            max_coords: 1_000_000,
        }
    }
}

/// Why a file could not be read, imported or written. Messages name the file.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{0}")]
    Usage(String),
    /// The thing named does not exist (an import id, a layer).
    #[error("{0}")]
    NotFound(String),
    /// Refused because of the store's state (an import already undone, or edited since).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] gengxin_store::StoreError),
}

impl IoError {
    pub fn file(path: &Path, message: impl std::fmt::Display) -> IoError {
        IoError::File {
            file: display_name(path),
            message: message.to_string(),
        }
    }
}

/// A file's name as messages show it.
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Options of [`read::read`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Overrides the text encoding (`.cpg`, the dBase code page, UTF-8 detection).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The table of a GeoPackage or the sheet of a workbook to read.
    pub source_layer: Option<String>,
    /// What to extract from an OpenStreetMap file.
    pub osm: Option<osm::OsmKind>,
    /// The facility tag table for OSM POIs; the built-in one when `None`.
    pub osm_tags: Option<PathBuf>,
    pub limits: Limits,
}

/// Parses an encoding name given by a user or a `.cpg` file: `UTF-8`, `GBK`, `GB2312`,
/// `GB18030`, `936`, `CP936`, `65001`, `Big5`, `Latin1`.
pub fn encoding_by_name(name: &str) -> Option<&'static encoding_rs::Encoding> {
    let n = name
        .trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase();
    let n = n.trim_start_matches("cp").trim_start_matches("ansi ");
    match n {
        "936" | "gbk" | "gb2312" | "gb_2312-80" => Some(encoding_rs::GBK),
        "54936" | "gb18030" => Some(encoding_rs::GB18030),
        "65001" | "utf-8" | "utf8" => Some(encoding_rs::UTF_8),
        "950" | "big5" => Some(encoding_rs::BIG5),
        "1252" | "latin1" | "iso-8859-1" | "88591" | "8859_1" => Some(encoding_rs::WINDOWS_1252),
        other => encoding_rs::Encoding::for_label(other.as_bytes()),
    }
}
