//! Row visibility for one caller: the policy of `gengxin_auth::policy` plus what the rows do not
//! say themselves (the district of the project a milestone or report belongs to).

use std::collections::HashMap;
use std::sync::Arc;

use gengxin_auth::Caller;
use gengxin_auth::policy::{self, RowScope};
use gengxin_model::{Access, Feature, Layer, LayerId};

use crate::{App, AppError};

/// What one caller may see of one layer.
pub struct Visible {
    caller: Caller,
    layer: &'static Layer,
    /// Project id → district, for rows that only name their project.
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
        let districts = if layer.access == Access::Projects && layer.id != LayerId::Projects {
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

    /// The row's scope, with the district filled in from its project.
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

    /// Whether every row is visible (no filtering needed).
    pub fn all(&self) -> bool {
        self.layer.access == Access::Public
            || self.caller.as_ref().is_some_and(|p| p.role.citywide())
    }
}

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
