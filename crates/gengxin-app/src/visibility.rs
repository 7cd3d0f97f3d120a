//! Row visibility for one caller: the policy of `gengxin_auth::policy` plus what the rows do not
//! say themselves (the district of the project a milestone or report belongs to), and the shape
//! in which the caller sees a row (positions the public sees generalised, [`shape`]).

use std::collections::HashMap;
use std::sync::Arc;

use gengxin_auth::Caller;
use gengxin_auth::policy::{self, RowScope};
use gengxin_model::{Access, Feature, Layer, LayerId, Value};
use gengxin_store::Query;

use crate::cache::Snapshot;
use crate::{App, AppError};

/// The row as the caller sees it: on a layer whose positions the caller may not see exactly
/// (`policy::sees_exact_positions`), the geometry generalised and the withheld fields null.
/// Every read path shapes before it filters, so no box or filter can tell more than the shape.
pub fn shape(caller: &Caller, layer: &Layer, mut f: Feature) -> Feature {
    if !policy::sees_exact_positions(caller, layer) {
        f.geometry = f.geometry.as_ref().map(gengxin_engine::privacy::generalise);
        for k in policy::WITHHELD_FROM_PUBLIC {
            f.properties.insert((*k).to_owned(), Value::Null);
        }
    }
    f
}

/// What one caller may see of one layer.
pub struct Visible {
    caller: Caller,
    layer: &'static Layer,
    /// Project id → district, for rows that only name their project (read only for callers
    /// scoped below the city).
    districts: Option<Arc<HashMap<String, String>>>,
}

impl Visible {
    /// Refuses a caller who may not list the layer at all (not signed in, not allowed, or a
    /// bookkeeping layer).
    pub async fn of(
        app: &App,
        caller: &Caller,
        layer: &'static Layer,
    ) -> Result<Visible, AppError> {
        policy::can_read_layer(caller, layer)?;
        let citywide = caller.as_ref().is_some_and(|p| p.role.citywide());
        let districts =
            if layer.access == Access::Projects && layer.id != LayerId::Projects && !citywide {
                Some(project_districts(app).await?)
            } else {
                None
            };
        Ok(Visible {
            caller: caller.clone(),
            layer,
            districts,
        })
    }

    /// The row's scope, with the district filled in from its project (for callers whose scope
    /// is not the whole city; the city roles see and write every row whatever its district).
    pub fn scope(&self, f: &Feature) -> RowScope {
        let mut scope = RowScope::of(self.layer.id, f);
        if scope.district.is_none()
            && let (Some(p), Some(d)) = (&scope.project, &self.districts)
        {
            scope.district = d.get(p).cloned();
        }
        scope
    }

    pub fn sees(&self, f: &Feature) -> bool {
        policy::can_read_row(&self.caller, self.layer, &self.scope(f))
    }

    pub fn layer(&self) -> &'static Layer {
        self.layer
    }

    /// Whether the caller sees the layer's positions generalised (see [`shape`]).
    pub fn generalised(&self) -> bool {
        !policy::sees_exact_positions(&self.caller, self.layer)
    }

    /// The row as the caller sees it ([`shape`]).
    pub fn shape(&self, f: Feature) -> Feature {
        shape(&self.caller, self.layer, f)
    }

    /// The caller's view of the layer's snapshot: the rows it may see, shaped.
    pub async fn snapshot(&self, app: &App) -> Result<Arc<Snapshot>, AppError> {
        let snapshot = app.snapshot(self.layer.id).await?;
        if self.all() && !self.generalised() {
            return Ok(snapshot);
        }
        Ok(Arc::new(Snapshot::new(
            snapshot
                .features
                .iter()
                .filter(|f| self.sees(f))
                .map(|f| self.shape(f.clone()))
                .collect(),
        )))
    }

    /// Whether every row is visible (no filtering needed).
    pub fn all(&self) -> bool {
        self.layer.access == Access::Public
            || self.caller.as_ref().is_some_and(|p| p.role.citywide())
    }

    /// The rows of a store query that the caller may see, with the scope applied before the
    /// page is cut: neither the rows returned nor whether the page is full (the caller's cue to
    /// ask for the next one) depend on rows the caller may not see.
    pub async fn query(&self, app: &App, mut q: Query) -> Result<Vec<Feature>, AppError> {
        if self.generalised() {
            // Boxes and filters see the shaped rows, never the stored positions.
            return Ok(select(&*self.snapshot(app).await?, &q));
        }
        if self.all() {
            return Ok(app.store.query(self.layer.id, q).await?);
        }
        let want = q.limit.unwrap_or(usize::MAX);
        q.limit = Some(SCAN);
        let mut out = Vec::new();
        loop {
            let rows = app.store.query(self.layer.id, q.clone()).await?;
            let more = rows.len() == SCAN;
            q.after_id = rows.last().map(|f| f.id.clone());
            for f in rows {
                if out.len() == want {
                    return Ok(out);
                }
                if self.sees(&f) {
                    out.push(f);
                }
            }
            if !more || out.len() == want {
                return Ok(out);
            }
        }
    }

    /// How many rows of the layer the caller may see (counted in the layer's snapshot; a
    /// caller who sees [`all`](Self::all) rows is better served by a cached count).
    pub async fn count(&self, app: &App) -> Result<u64, AppError> {
        let snapshot = app.snapshot(self.layer.id).await?;
        Ok(snapshot.features.iter().filter(|f| self.sees(f)).count() as u64)
    }
}

/// A store query answered from shaped rows in memory, in id order as the stores answer it.
fn select(snapshot: &Snapshot, q: &Query) -> Vec<Feature> {
    let keep = |f: &&Feature| {
        q.after_id.as_ref().is_none_or(|a| f.id > *a)
            && q.equals
                .iter()
                .all(|(k, v)| f.properties.get(k).unwrap_or(&Value::Null) == v)
    };
    let mut rows: Vec<Feature> = match q.bbox {
        Some(b) => snapshot
            .in_envelope(geo::Rect::new(
                geo::coord! {x: b.min_x, y: b.min_y},
                geo::coord! {x: b.max_x, y: b.max_y},
            ))
            .into_iter()
            .filter(keep)
            .cloned()
            .collect(),
        None => snapshot.features.iter().filter(keep).cloned().collect(),
    };
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    rows.truncate(q.limit.unwrap_or(usize::MAX));
    rows
}

/// Rows read from the store per step while a scoped query fills its page.
const SCAN: usize = 2000;

/// Each project's district, from the projects snapshot.
pub async fn project_districts(app: &App) -> Result<Arc<HashMap<String, String>>, AppError> {
    let projects = app.snapshot(LayerId::Projects).await?;
    Ok(Arc::new(
        projects
            .features
            .iter()
            .filter_map(|p| {
                p.get("district_code")
                    .as_str()
                    .map(|d| (p.id.clone(), d.to_owned()))
            })
            .collect(),
    ))
}
