//! Row visibility for one caller: the policy of `gengxin_auth::policy` plus what the rows do not
//! say themselves (the district of the project a milestone or report belongs to).

use std::collections::HashMap;
use std::sync::Arc;

use gengxin_auth::Caller;
use gengxin_auth::policy::{self, RowScope};
use gengxin_model::{Access, Feature, Layer, LayerId};
use gengxin_store::Query;

use crate::{App, AppError};

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

    /// Whether every row is visible (no filtering needed).
    pub fn all(&self) -> bool {
        self.layer.access == Access::Public
            || self.caller.as_ref().is_some_and(|p| p.role.citywide())
    }

    /// The rows of a store query that the caller may see, with the scope applied before the
    /// page is cut: neither the rows returned nor whether the page is full (the caller's cue to
    /// ask for the next one) depend on rows the caller may not see.
    pub async fn query(&self, app: &App, mut q: Query) -> Result<Vec<Feature>, AppError> {
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
