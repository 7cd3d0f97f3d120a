//! The import: read a file, settle its CRS, convert, validate, map, and write everything — the
//! features, a new custom layer's definition and the import's own record — in one store
//! transaction. A dry run stops before writing. [`undo`] removes an import's features again.

use std::path::Path;

use chrono::{DateTime, Utc};
use gengxin_engine::crs::{CRS_HINT, Crs};
use gengxin_model::{Feature, GeometryType, Layer, LayerId, Value};
use gengxin_store::{Edit, Store, StoreError};
use serde::Serialize;
use sha2::Digest;

use crate::custom::{self, CustomLayer};
use crate::mapping::Mapping;
use crate::osm::OsmKind;
use crate::validate::{self, Outcome};
use crate::{Dataset, Format, IoError, ReadOptions, display_name};

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// A model layer (`buildings`, `parcels` …) or the name of a custom layer (new or existing).
    pub layer: String,
    /// The source CRS when the file does not declare one (or to override it).
    pub crs: Option<Crs>,
    pub mapping: Option<Mapping>,
    /// Make invalid geometries valid instead of skipping them.
    pub repair: bool,
    /// Who imports (for the record).
    pub user: String,
    /// The name to record when the file on disk is a temporary copy (an upload).
    pub file_name: Option<String>,
    pub format: Option<Format>,
    pub read: ReadOptions,
    /// Who reads a custom layer the import creates: a code of `vocab::CUSTOM_ACCESS`
    /// (default `organisation`: the importer's organisation and the city administrator). An
    /// existing custom layer keeps its own.
    pub access: Option<String>,
    /// The importer's organisation, for `organisation` access.
    pub organisation_id: Option<String>,
    /// When the import happens, for its record and its features' timestamps (default: now). A
    /// fixed time makes two runs of the same import give identical stores.
    pub at: Option<DateTime<Utc>>,
}

/// One feature's problems.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// 1-based position in the source file.
    pub record: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub problems: Vec<String>,
    /// True when the feature was repaired and imported, false when it was skipped.
    pub repaired: bool,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub import_id: String,
    pub file_name: String,
    pub sha256: String,
    pub format: &'static str,
    pub layer: String,
    pub crs: Option<String>,
    pub encoding: Option<String>,
    pub read: usize,
    pub imported: usize,
    pub skipped: usize,
    pub repaired: usize,
    pub issues: Vec<Issue>,
    pub dry_run: bool,
    pub imported_by: String,
    /// Set when the import created a custom layer.
    pub new_custom_layer: bool,
}

/// An import checked and converted, ready to write.
pub struct Plan {
    pub report: Report,
    target: Target,
    /// The features not yet handed to a sink (all of them for [`plan`]).
    features: Vec<Feature>,
    /// The ids of every feature the import writes, as a JSON array (for its record).
    feature_ids: String,
    at: DateTime<Utc>,
}

enum Target {
    Model(&'static Layer),
    Custom { layer: CustomLayer, new: bool },
}

impl Target {
    /// The layer the features are written to.
    fn rows_layer(&self) -> LayerId {
        match self {
            Target::Model(l) => l.id,
            Target::Custom { layer, .. } => layer.rows_layer(),
        }
    }
}

/// Where [`plan_streamed`] hands converted features: `(layer, batch)`.
pub type Sink<'a> = &'a mut dyn FnMut(LayerId, Vec<Feature>) -> Result<(), IoError>;

/// Reads, converts, validates and maps a file. Synchronous (file I/O and CPU): run it on a
/// blocking thread. `existing` is the custom layer of that name, if the store has one.
pub fn plan(
    path: &Path,
    opts: &ImportOptions,
    existing: Option<CustomLayer>,
    at: DateTime<Utc>,
) -> Result<Plan, IoError> {
    plan_inner(path, opts, existing, at, None)
}

/// [`plan`], handing the features to `sink` in batches of `batch` as they are converted,
/// keeping none: with a format read as a stream (`crate::read::streams`) memory holds one
/// batch, not the file. The file is read twice (first for its CRS, fields and count, and so
/// that a broken feature anywhere stops the import before any batch is handed over). What the
/// sink got is the import only with the plan's [`Plan::into_edit`] in the same transaction.
pub fn plan_streamed(
    path: &Path,
    opts: &ImportOptions,
    existing: Option<CustomLayer>,
    at: DateTime<Utc>,
    batch: usize,
    sink: Sink<'_>,
) -> Result<Plan, IoError> {
    plan_inner(path, opts, existing, at, Some((batch.max(1), sink)))
}

fn plan_inner(
    path: &Path,
    opts: &ImportOptions,
    existing: Option<CustomLayer>,
    at: DateTime<Utc>,
    mut sink: Option<(usize, Sink<'_>)>,
) -> Result<Plan, IoError> {
    let model = Layer::by_name(&opts.layer);
    if model.is_none() {
        custom::check_name(&opts.layer)?;
    }
    if let (Some(l), Some(m)) = (model, &opts.mapping) {
        m.check(l).map_err(|e| IoError::file(path, e))?;
    }
    let format = match opts.format.or_else(|| Format::of(path)) {
        Some(f) => f,
        None => {
            return Err(IoError::file(
                path,
                "unknown format: name the file .geojson, .shp, .zip, .gpkg, .csv, .xlsx or .osm.pbf",
            ));
        }
    };
    let sha256 = {
        let mut hasher = sha2::Sha256::new();
        let mut file = std::fs::File::open(path).map_err(|e| IoError::file(path, e))?;
        std::io::copy(&mut file, &mut hasher).map_err(|e| IoError::file(path, e))?;
        format!("{:x}", hasher.finalize())
    };
    let mut read = opts.read.clone();
    if format == Format::OsmPbf {
        read.osm = Some(match model.map(|l| l.id) {
            Some(LayerId::Roads) => OsmKind::Walkways,
            Some(LayerId::Buildings) => OsmKind::Buildings,
            Some(LayerId::Facilities) => OsmKind::Facilities,
            _ => {
                return Err(IoError::file(
                    path,
                    "an OpenStreetMap file imports into roads (walkable ways), buildings or facilities; pass one of those as --layer",
                ));
            }
        });
    }
    // What the records are like: a streamed format is read once for it (records dropped), the
    // others are read whole and kept for the conversion.
    let streamed = crate::read::streams(format);
    let mut inference = custom::Inference::default();
    let mut count = 0;
    let mut loaded = Vec::new();
    let ds = if streamed {
        crate::read::stream(path, format, &read, &mut |r| {
            count += 1;
            inference.add(&r);
            Ok(())
        })?
    } else {
        let mut ds = crate::read::read(path, format, &read)?;
        loaded = std::mem::take(&mut ds.records);
        count = loaded.len();
        loaded.iter().for_each(|r| inference.add(r));
        ds
    };
    let import_id = format!("imp-{}-{}", at.format("%Y%m%d%H%M%S%3f"), &sha256[..8]);
    let file_name = opts.file_name.clone().unwrap_or_else(|| display_name(path));
    let crs = resolve_crs(path, &ds, opts.crs, inference.spatial())?;
    let target = match model {
        Some(l) => Target::Model(l),
        None => match existing {
            Some(layer) => Target::Custom { layer, new: false },
            None => {
                let mut layer = inference.layer(&opts.layer, &ds.fields, &import_id);
                layer.access = custom::check_access(opts.access.as_deref())?;
                layer.organisation_id = opts.organisation_id.clone();
                Target::Custom { layer, new: true }
            }
        },
    };
    let to_storage = crs
        .map(|c| c.to_storage())
        .transpose()
        .map_err(|e| IoError::file(path, e))?;
    let mapping = opts.mapping.clone().unwrap_or_default();
    let mut conv = Converter {
        opts,
        max_coords: read.limits.max_coords,
        want: match &target {
            Target::Model(l) => l.geometry,
            Target::Custom { layer, .. } => layer.spatial.then_some(GeometryType::Any),
        },
        target: &target,
        to_storage: to_storage.as_ref(),
        mapping: &mapping,
        provenance: format!("import:{import_id}"),
        import_id: &import_id,
        at,
        n: 0,
        features: Vec::with_capacity(match &sink {
            Some((batch, _)) => (*batch).min(count),
            None => count,
        }),
        issues: Vec::new(),
        seen: std::collections::HashSet::new(),
        feature_ids: String::from("["),
        imported: 0,
    };
    let rows_layer = target.rows_layer();
    let mut add = |conv: &mut Converter, r: crate::Record| -> Result<(), IoError> {
        conv.add(r);
        if let Some((batch, sink)) = &mut sink
            && conv.features.len() >= *batch
        {
            sink(rows_layer, std::mem::take(&mut conv.features))?;
        }
        Ok(())
    };
    if streamed {
        crate::read::stream(path, format, &read, &mut |r| add(&mut conv, r))?;
    } else {
        for r in loaded {
            add(&mut conv, r)?;
        }
    }
    if let Some((_, sink)) = &mut sink
        && !conv.features.is_empty()
    {
        sink(rows_layer, std::mem::take(&mut conv.features))?;
    }
    let Converter {
        features,
        issues,
        mut feature_ids,
        imported,
        n,
        ..
    } = conv;
    feature_ids.push(']');
    let repaired = issues.iter().filter(|i| i.repaired).count();
    let report = Report {
        import_id,
        file_name,
        sha256,
        format: format.name(),
        layer: opts.layer.clone(),
        crs: crs.map(Crs::name),
        encoding: ds.encoding.clone(),
        read: n,
        imported,
        skipped: n - imported,
        repaired,
        issues,
        dry_run: false,
        imported_by: if opts.user.is_empty() {
            "system".to_owned()
        } else {
            opts.user.clone()
        },
        new_custom_layer: matches!(target, Target::Custom { new: true, .. }),
    };
    Ok(Plan {
        report,
        target,
        features,
        feature_ids,
        at,
    })
}

/// Converts, validates and maps records one at a time.
struct Converter<'a> {
    opts: &'a ImportOptions,
    max_coords: usize,
    want: Option<GeometryType>,
    target: &'a Target,
    to_storage: Option<&'a gengxin_engine::crs::ToStorage>,
    mapping: &'a Mapping,
    provenance: String,
    import_id: &'a str,
    at: DateTime<Utc>,
    /// Records seen.
    n: usize,
    features: Vec<Feature>,
    issues: Vec<Issue>,
    seen: std::collections::HashSet<String>,
    feature_ids: String,
    imported: usize,
}

impl Converter<'_> {
    fn add(&mut self, r: crate::Record) {
        self.n += 1;
        let n = self.n;
        let import_id = self.import_id;
        let source_id = self.mapping.id_of(&r);
        // Problems that skip the feature, and problems repaired.
        let mut fatal = Vec::new();
        let mut fixed = Vec::new();
        let geometry = match (self.want, &r.geometry) {
            (None, None) => None,
            (None, Some(_)) => {
                fatal.push(format!("layer {} takes no geometry", self.opts.layer));
                None
            }
            (Some(_), None) => {
                fatal.push("geometry is missing".into());
                None
            }
            (Some(want), Some(g)) => {
                let g = self
                    .to_storage
                    .expect("a CRS when there is geometry")
                    .convert_geometry(g);
                match validate::check(g, want, &r.problems, self.opts.repair, self.max_coords) {
                    Outcome::Valid(g) => Some(g),
                    Outcome::Repaired(g, p) => {
                        fixed = p;
                        Some(g)
                    }
                    Outcome::Invalid(p) => {
                        fatal.extend(p);
                        None
                    }
                }
            }
        };
        let id = match self.target {
            Target::Model(_) => source_id
                .clone()
                .unwrap_or_else(|| format!("{import_id}-{n}")),
            Target::Custom { layer, .. } => format!(
                "{}:{}",
                layer.name,
                source_id
                    .clone()
                    .unwrap_or_else(|| format!("{import_id}-{n}"))
            ),
        };
        if !self.seen.insert(id.clone()) {
            fatal.push(format!("id {id:?} appears more than once in the file"));
        }
        let mut feature = Feature::new(id, self.provenance.clone(), self.at);
        feature.geometry = geometry;
        let props = match self.target {
            Target::Model(l) => self.mapping.properties(l, &r),
            Target::Custom { layer, .. } => custom::properties(layer, &r.attrs).map(|p| {
                [
                    ("layer_id".to_owned(), Value::Text(layer.name.clone())),
                    (
                        "properties".to_owned(),
                        Value::Text(serde_json::Value::Object(p).to_string()),
                    ),
                ]
                .into()
            }),
        };
        match props {
            Ok(p) => feature.properties = p,
            Err(e) => fatal.push(e),
        }
        if fatal.is_empty() {
            let layer = Layer::by_id(self.target.rows_layer());
            match layer.check(feature) {
                Ok(f) => {
                    if !fixed.is_empty() {
                        self.issues.push(Issue {
                            record: n,
                            id: source_id,
                            problems: fixed,
                            repaired: true,
                        });
                    }
                    if self.imported > 0 {
                        self.feature_ids.push(',');
                    }
                    self.feature_ids
                        .push_str(&serde_json::to_string(&f.id).expect("a string"));
                    self.imported += 1;
                    self.features.push(f);
                    return;
                }
                // The message starts with "layer/id: "; the report lists the id apart.
                Err(e) => {
                    let text = e.to_string();
                    fatal.push(
                        text.split_once(": ")
                            .map_or(text.clone(), |(_, m)| m.to_owned()),
                    );
                }
            }
        }
        fixed.extend(fatal);
        self.issues.push(Issue {
            record: n,
            id: source_id,
            problems: fixed,
            repaired: false,
        });
    }
}

fn resolve_crs(
    path: &Path,
    ds: &Dataset,
    flag: Option<Crs>,
    has_geometry: bool,
) -> Result<Option<Crs>, IoError> {
    if !has_geometry {
        return Ok(None);
    }
    if let Some(c) = flag {
        return Ok(Some(c));
    }
    if let Some(c) = ds.crs {
        return Ok(Some(c));
    }
    let why = match (&ds.declared_crs, ds.format) {
        (Some(d), _) => format!("its CRS {d:?} is not one Gengxin knows"),
        (None, Format::Shapefile) => "it has no .prj file, so its CRS is unknown".to_owned(),
        (None, Format::Csv | Format::Xlsx) => {
            "a table's coordinates do not say their CRS".to_owned()
        }
        (None, _) => "it does not declare its CRS".to_owned(),
    };
    Err(IoError::file(
        path,
        format!("{why}; Gengxin never guesses: {CRS_HINT}"),
    ))
}

impl Plan {
    /// Writes the plan in one transaction: the features, a new custom layer's definition, and the
    /// import record. On any error nothing is written.
    pub async fn apply(self, store: &dyn Store) -> Result<Report, IoError> {
        let (edit, report) = self.into_edit();
        store.apply(edit).await?;
        Ok(report)
    }

    /// The plan as one edit (the features, a new custom layer's definition, the import record),
    /// for a caller that adds to the transaction (its audit record), and the report.
    pub fn into_edit(mut self) -> (Edit, Report) {
        let rows_layer = self.target.rows_layer();
        let layer_row = match &self.target {
            Target::Model(_) => None,
            Target::Custom { layer, new } => {
                new.then(|| layer.to_row(self.at, &format!("import:{}", self.report.import_id)))
            }
        };
        let ids = std::mem::take(&mut self.feature_ids);
        let record = self.record(ids);
        let mut insert = Vec::new();
        if let Some(row) = layer_row {
            insert.push((LayerId::CustomLayers, vec![row]));
        }
        if !self.features.is_empty() {
            insert.push((rows_layer, std::mem::take(&mut self.features)));
        }
        insert.push((LayerId::Imports, vec![record]));
        (
            Edit {
                insert,
                ..Edit::default()
            },
            self.report,
        )
    }

    /// The report of a dry run: nothing is written.
    pub fn dry_run(mut self) -> Report {
        self.report.dry_run = true;
        self.report
    }

    /// How many features the import writes.
    pub fn feature_count(&self) -> usize {
        self.report.imported
    }

    fn record(&self, feature_ids: String) -> Feature {
        let r = &self.report;
        let report = serde_json::json!({ "issues": r.issues }).to_string();
        let mut f = Feature::new(&r.import_id, "import", self.at)
            .set("layer", r.layer.clone())
            .set("file_name", r.file_name.clone())
            .set("sha256", r.sha256.clone())
            .set("format", r.format)
            .set("imported_by", r.imported_by.clone())
            .set("imported_at", gengxin_model::timestamp(&self.at))
            .set("read", r.read as i64)
            .set("imported", r.imported as i64)
            .set("skipped", r.skipped as i64)
            .set("repaired", r.repaired as i64)
            .set("report", report)
            .set("feature_ids", feature_ids)
            .set("state", "applied");
        if let Some(c) = &r.crs {
            f = f.set("crs", c.clone());
        }
        if let Some(e) = &r.encoding {
            f = f.set("encoding", e.clone());
        }
        f
    }
}

/// Imports a file: [`prepare`], then [`Plan::apply`] (or the dry-run report). Unaudited: users
/// import through `gengxin_app::imports`, which adds the audit record to the transaction.
pub async fn import(
    store: &dyn Store,
    path: &Path,
    opts: &ImportOptions,
    dry_run: bool,
) -> Result<Report, IoError> {
    let plan = prepare(store, path, opts).await?;
    if dry_run {
        return Ok(plan.dry_run());
    }
    plan.apply(store).await
}

/// Reads, converts and validates a file into a [`Plan`], on a blocking thread; writes nothing.
pub async fn prepare(
    store: &dyn Store,
    path: &Path,
    opts: &ImportOptions,
) -> Result<Plan, IoError> {
    let existing = existing_custom(store, &opts.layer).await?;
    let path = path.to_owned();
    let o = opts.clone();
    let at = opts.at.unwrap_or_else(Utc::now);
    tokio::task::spawn_blocking(move || plan(&path, &o, existing, at))
        .await
        .map_err(|e| IoError::Store(StoreError::Internal(format!("import failed: {e}"))))?
}

/// The custom layer `layer` names, if it is one the store has (a model layer is none).
pub async fn existing_custom(
    store: &dyn Store,
    layer: &str,
) -> Result<Option<CustomLayer>, IoError> {
    match Layer::by_name(layer) {
        Some(_) => Ok(None),
        None => Ok(custom::get(store, layer).await?),
    }
}

/// Undoes an import: deletes its features (and the custom layer it created) and marks its record
/// undone, in one transaction. Refused if any of its features was edited since (their version
/// moved on): undoing would silently throw those edits away.
pub async fn undo(store: &dyn Store, import_id: &str) -> Result<usize, IoError> {
    let (edit, removed) = undo_edit(store, import_id, Utc::now()).await?;
    store.apply(edit).await?;
    Ok(removed)
}

/// [`undo`] as one edit, stamped `now`, for a caller that adds to the transaction; and how many
/// features it removes.
pub async fn undo_edit(
    store: &dyn Store,
    import_id: &str,
    now: DateTime<Utc>,
) -> Result<(Edit, usize), IoError> {
    let record = store
        .get(LayerId::Imports, import_id)
        .await?
        .ok_or_else(|| IoError::NotFound(format!("no import {import_id}")))?;
    if record.get("state").as_str() == Some("undone") {
        return Err(IoError::Conflict(format!(
            "import {import_id} is already undone"
        )));
    }
    let layer_name = record.get("layer").as_str().unwrap_or_default().to_owned();
    let ids: Vec<String> = serde_json::from_str(record.get("feature_ids").as_str().unwrap_or("[]"))
        .map_err(|_| {
            IoError::Store(StoreError::Internal(format!(
                "import {import_id}: damaged record"
            )))
        })?;
    let (rows_layer, created) = match Layer::by_name(&layer_name) {
        Some(l) => (l.id, None),
        None => {
            let l = custom::get(store, &layer_name).await?.ok_or_else(|| {
                IoError::Usage(format!(
                    "import {import_id}: its custom layer {layer_name} is gone"
                ))
            })?;
            let created = (l.import_id.as_deref() == Some(import_id)).then(|| l.name.clone());
            (l.rows_layer(), created)
        }
    };
    let mut rows = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(f) = store.get(rows_layer, id).await? {
            if f.version != 1 {
                return Err(IoError::Conflict(format!(
                    "cannot undo import {import_id}: {layer_name}/{id} was edited since (version {}); undoing would discard that edit",
                    f.version
                )));
            }
            rows.push((f.id, f.version));
        }
    }
    let removed = rows.len();
    let mut delete = vec![(rows_layer, rows)];
    if let Some(name) = created {
        let def = store
            .get(LayerId::CustomLayers, &name)
            .await?
            .expect("read above");
        delete.push((LayerId::CustomLayers, vec![(name, def.version)]));
    }
    let mut updated = record.clone();
    updated
        .properties
        .insert("state".into(), Value::Text("undone".into()));
    updated.properties.insert(
        "undone_at".into(),
        Value::Text(gengxin_model::timestamp(&now)),
    );
    Ok((
        Edit {
            delete,
            update: vec![(LayerId::Imports, vec![updated])],
            ..Edit::default()
        },
        removed,
    ))
}
