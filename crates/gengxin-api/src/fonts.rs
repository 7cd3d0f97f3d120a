//! Map label glyphs, served as a tile server does: `GET /fonts/{fontstack}/{start}-{end}.pbf`
//! (SDF glyph ranges, as MapLibre's `glyphs` URL asks for), rendered from a CJK font on first
//! use by [`gengxin_fonts`] and kept.
//!
//! The font is `GENGXIN_FONT` (a font file, optionally `#Face Name` after it), else the Simplified
//! Chinese face of Debian's `fonts-noto-cjk`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gengxin_fonts::{Font, parse_range};

use crate::extract::ApiPath;
use crate::{ApiError, AppState};

/// Debian's `fonts-noto-cjk` collection and the face in it for Simplified Chinese.
const DEFAULT_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
const DEFAULT_FACE: &str = "Noto Sans CJK SC";

/// How long browsers keep a glyph range.
const GLYPH_CACHE: &str = "public, max-age=86400";

/// The one font and the ranges rendered so far.
#[derive(Default)]
pub struct Glyphs {
    font: OnceLock<Result<Font, String>>,
    ranges: Mutex<HashMap<u32, Bytes>>,
}

impl Glyphs {
    fn font(&self) -> Result<&Font, ApiError> {
        self.font
            .get_or_init(|| {
                let setting = std::env::var("GENGXIN_FONT").unwrap_or_default();
                let (path, face) = match setting.split_once('#') {
                    Some((p, f)) => (p.to_owned(), f.to_owned()),
                    None if setting.is_empty() => (DEFAULT_FONT.into(), DEFAULT_FACE.into()),
                    None => (setting.clone(), String::new()),
                };
                let font = if face.is_empty() {
                    Font::open(Path::new(&path), 0)
                } else {
                    Font::find(Path::new(&path), &face)
                };
                font.map_err(|e| {
                    let msg = format!(
                        "no font for map labels ({e}); install Debian's fonts-noto-cjk or set \
                         GENGXIN_FONT=/path/to/font.ttf"
                    );
                    tracing::warn!("{msg}");
                    msg
                })
            })
            .as_ref()
            .map_err(ApiError::not_found)
    }
}

/// One range of 256 glyphs of the font (`application/x-protobuf`). The fontstack must name the
/// server's font (e.g. `Noto Sans CJK SC Regular`), alone or in a comma-separated list.
#[utoipa::path(get, path = "/fonts/{fontstack}/{range}.pbf",
    params(
        ("fontstack" = String, Path, description = "e.g. Noto Sans CJK SC Regular"),
        ("range" = String, Path, description = "e.g. 27392-27647 (256 code points from a multiple of 256), then `.pbf`"),
    ),
    responses(
        (status = 200, description = "Glyph PBF", content_type = "application/x-protobuf", body = Vec<u8>),
        (status = 400, description = "Not a glyph range", body = crate::error::ErrorBody),
        (status = 404, description = "No such font on this server", body = crate::error::ErrorBody),
    ))]
pub async fn glyphs(
    State(s): State<AppState>,
    ApiPath((fontstack, range)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let (start, end) = parse_range(&range).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let g = s.glyphs.clone();
    let font = g.font()?;
    let name = font.name();
    if !fontstack.split(',').any(|f| f.trim() == name) {
        return Err(ApiError::not_found(format!(
            "no font {fontstack:?} on this server; it has {name:?}"
        )));
    }
    let cached = g.ranges.lock().expect("glyph lock").get(&start).cloned();
    let bytes = match cached {
        Some(b) => b,
        None => tokio::task::spawn_blocking(move || {
            let font = g.font().expect("loaded above");
            let pbf = font.glyphs(&font.name(), start, end).map(Bytes::from);
            if let Ok(b) = &pbf {
                g.ranges
                    .lock()
                    .expect("glyph lock")
                    .insert(start, b.clone());
            }
            pbf
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?,
    };
    // A range depends only on the server's font: browsers keep it for a day (the map's second
    // load asks for no glyphs).
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-protobuf"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(GLYPH_CACHE)),
        ],
        bytes,
    )
        .into_response())
}
