//! The administrative tree: city 420100 → districts → streets → communities/villages.

use axum::Json;
use axum::extract::State;
use gengxin_model::{LayerId, Value};
use gengxin_store::Query;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::ApiPath;
use crate::wire::GeoFeature;
use crate::{ApiError, AppState};

/// One child in the admin tree.
#[derive(Serialize, ToSchema)]
pub struct UnitItem {
    /// Statistics code: 6 digits (city, district), 9 (street), 12 (community/village).
    code: String,
    name: String,
    /// city, district, street or community.
    level: String,
    /// subdistrict, town, residents_committee, village, … (see /api/layers).
    kind: String,
    parent_code: Option<String>,
    /// Link to the unit with its geometry.
    geometry: String,
    /// Link to the unit's children.
    children: String,
}

fn check_code(code: &str) -> Result<(), ApiError> {
    if (6..=12).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{code:?} is not an administrative code (6 to 12 digits)"
        )))
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The children of an administrative unit, ordered by code.
#[utoipa::path(get, path = "/api/units/{code}/children",
    params(("code" = String, Path, description = "e.g. 420100 (武汉市)")),
    responses(
        (status = 200, body = Vec<UnitItem>),
        (status = 400, description = "Not a code", body = crate::error::ErrorBody),
        (status = 404, description = "No such unit", body = crate::error::ErrorBody),
    ))]
pub async fn children(
    State(s): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<Vec<UnitItem>>, ApiError> {
    check_code(&code)?;
    if s.store.get(LayerId::AdminUnits, &code).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "no administrative unit {code}"
        )));
    }
    let q = Query {
        equals: vec![("parent_code".into(), Value::Text(code))],
        ..Query::default()
    };
    let kids = s.store.query(LayerId::AdminUnits, q).await?;
    Ok(Json(
        kids.iter()
            .map(|f| UnitItem {
                code: f.id.clone(),
                name: text(f.get("name")),
                level: text(f.get("level")),
                kind: text(f.get("kind")),
                parent_code: f.get("parent_code").as_str().map(str::to_owned),
                geometry: format!("/api/units/{}", f.id),
                children: format!("/api/units/{}/children", f.id),
            })
            .collect(),
    ))
}

/// One administrative unit as a GeoJSON Feature with its boundary.
#[utoipa::path(get, path = "/api/units/{code}",
    params(("code" = String, Path)),
    responses(
        (status = 200, description = "GeoJSON Feature; its properties link to its children (`children`)", body = GeoFeature),
        (status = 400, description = "Not a code", body = crate::error::ErrorBody),
        (status = 404, description = "No such unit", body = crate::error::ErrorBody),
    ))]
pub async fn unit(
    State(s): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<GeoFeature>, ApiError> {
    check_code(&code)?;
    let f = s
        .store
        .get(LayerId::AdminUnits, &code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no administrative unit {code}")))?;
    let mut body = GeoFeature::of(&f);
    body.properties.insert(
        "children".into(),
        format!("/api/units/{code}/children").into(),
    );
    Ok(Json(body))
}
