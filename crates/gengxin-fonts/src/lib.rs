//! MapLibre/Mapbox glyph PBF ("SDF font") generation from TrueType/OpenType fonts.
//!
//! MapLibre GL JS fetches label glyphs from `glyphs: ".../fonts/{fontstack}/{range}.pbf"`,
//! 256 code points at a time. This crate renders such a range from a `.ttf`, `.otf` or a
//! face of a `.ttc` collection, in pure Rust:
//!
//! * [`ttf_parser`] parses the font and yields glyph outlines,
//! * [`ab_glyph_rasterizer`] rasterises an outline into an anti-aliased coverage bitmap,
//! * [`sdf_glyph_renderer`] turns the bitmap into a signed distance field,
//! * [`prost`] encodes the `glyphs.proto` message ([`proto`]).
//!
//! The parameters are those of fontnik and `pbf_font_tools`: font size 24 px, 3 px border,
//! SDF radius 8, cutoff 0.25. The metrics follow FreeType's conventions, as used by
//! `pbf_font_tools` (unhinted outline, pixel-aligned control box, `top` relative to the
//! ascender rounded up to whole pixels).
//!
//! ```no_run
//! use std::{path::Path, sync::Arc};
//! use gengxin_fonts::{Font, parse_range};
//!
//! let font = Arc::new(Font::find(
//!     Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
//!     "Noto Sans CJK SC",
//! )?);
//! let (start, end) = parse_range("27392-27647")?;
//! let pbf: Vec<u8> = font.glyphs(&font.name(), start, end)?;
//! # Ok::<(), gengxin_fonts::FontError>(())
//! ```
#![forbid(unsafe_code)]

pub mod proto;

use std::path::{Path, PathBuf};

use ab_glyph_rasterizer::{Point, Rasterizer, point};
use prost::Message as _;
use sdf_glyph_renderer::{BitmapGlyph, SdfGlyphError, clamp_to_u8};
use ttf_parser::{Face, FaceParsingError, GlyphId, OutlineBuilder, PlatformId, name_id};

/// Font size, in pixels per em, at which glyphs are rendered (as MapLibre expects).
pub const FONT_SIZE: u32 = 24;
/// Border, in pixels, around each glyph bitmap.
pub const BUFFER: usize = 3;
/// Distance, in pixels, covered by the signed distance field.
pub const RADIUS: usize = 8;
/// Share of the byte range that encodes the inside of the glyph.
pub const CUTOFF: f64 = 0.25;

/// Number of code points in one glyph range.
const RANGE_LEN: u32 = 256;
/// Largest Unicode scalar value.
const MAX_CODE_POINT: u32 = 0x10_FFFF;
/// Glyphs whose ink box exceeds this many pixels on a side (only malformed fonts do at
/// 24 px) are skipped rather than rendered.
const MAX_GLYPH_PX: u32 = 1024;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    /// The font file does not exist.
    #[error("font file not found: {}", path.display())]
    NotFound {
        /// The path that was opened.
        path: PathBuf,
    },
    /// The font file exists but could not be read.
    #[error("cannot read font file {}: {source}", path.display())]
    Io {
        /// The path that was opened.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The data is not a TrueType/OpenType font or collection, or is malformed.
    #[error("not a font (TrueType/OpenType/collection expected): {0}")]
    NotAFont(String),
    /// The face index is past the end of the collection.
    #[error("face index {index} out of range: the font has {count} face(s)")]
    FaceIndexOutOfRange {
        /// The requested index.
        index: u32,
        /// The number of faces in the file.
        count: u32,
    },
    /// No face of the file has the requested name.
    #[error("no face named {name:?} in {}; available faces: {}", path.display(), available.join(", "))]
    FaceNotFound {
        /// The name that was looked for.
        name: String,
        /// The file searched.
        path: PathBuf,
        /// The names of the faces the file has.
        available: Vec<String>,
    },
    /// The glyph range is malformed or not aligned to 256 code points.
    #[error(
        "bad glyph range {0:?}: expected \"START-END\" with START a multiple of 256, \
         END = START + 255 and END <= 1114111"
    )]
    BadRange(String),
    /// The signed distance field of a glyph could not be computed.
    #[error("cannot render the SDF of U+{code_point:04X}: {source}")]
    Sdf {
        /// The code point being rendered.
        code_point: u32,
        /// The underlying error.
        #[source]
        source: SdfGlyphError,
    },
}

/// A parsed font face. Owns the font bytes; cheap to share as `Arc<Font>` (it is
/// `Send + Sync`), and [`Font::glyphs`] may be called from several threads at once.
#[derive(Clone)]
pub struct Font {
    data: Vec<u8>,
    index: u32,
    family: String,
    style: String,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font")
            .field("name", &self.name())
            .field("index", &self.index)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl Font {
    /// Loads a .ttf/.otf, or face `index` of a .ttc collection.
    pub fn from_bytes(bytes: Vec<u8>, index: u32) -> Result<Font, FontError> {
        let (family, style) = {
            let face = parse_face(&bytes, index)?;
            face_names(&face)
        };
        Ok(Font {
            data: bytes,
            index,
            family,
            style,
        })
    }

    /// Loads a .ttf/.otf file, or face `index` of a .ttc collection file.
    pub fn open(path: &Path, index: u32) -> Result<Font, FontError> {
        Font::from_bytes(read_file(path)?, index)
    }

    /// Loads the face of `path` whose family name (e.g. `"Noto Sans CJK SC"`) or full name
    /// (family + style, e.g. `"Noto Sans CJK SC Regular"`) is `name`, ignoring ASCII case.
    /// A single-face file is matched the same way.
    pub fn find(path: &Path, name: &str) -> Result<Font, FontError> {
        let bytes = read_file(path)?;
        let wanted = name.trim();
        let mut available = Vec::new();
        let mut found = None;
        for index in 0..face_count(&bytes)? {
            let face = parse_face(&bytes, index)?;
            let (family, style) = face_names(&face);
            let full = full_name(&family, &style);
            if found.is_none()
                && (family.eq_ignore_ascii_case(wanted) || full.eq_ignore_ascii_case(wanted))
            {
                found = Some(index);
            }
            available.push(full);
        }
        match found {
            Some(index) => Font::from_bytes(bytes, index),
            None => Err(FontError::FaceNotFound {
                name: name.to_owned(),
                path: path.to_owned(),
                available,
            }),
        }
    }

    /// The family + style name, e.g. "Noto Sans CJK SC Regular" (what MapLibre styles name
    /// as the fontstack). Built like FreeType's `family_name + " " + style_name`, which is
    /// what fontnik and `pbf_font_tools` use.
    pub fn name(&self) -> String {
        full_name(&self.family, &self.style)
    }

    /// The family name, e.g. "Noto Sans CJK SC".
    pub fn family(&self) -> &str {
        &self.family
    }

    /// The style name, e.g. "Regular".
    pub fn style(&self) -> &str {
        &self.style
    }

    /// The face index within the file (0 for a single-face file).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Whether the font maps code point `c` to a glyph.
    pub fn has_glyph(&self, c: char) -> bool {
        self.face().glyph_index(c).is_some_and(|id| id.0 != 0)
    }

    /// The glyph PBF for code points start..=end (end - start == 255, start % 256 == 0), as MapLibre expects:
    /// SDF bitmaps at font size 24 px, buffer 3 px, radius 8, cutoff 0.25 (the values of fontnik / pbf_font_tools),
    /// metrics width/height/left/top/advance; code points the font lacks are omitted.
    ///
    /// `fontstack` is written as the stack's name (MapLibre ignores it; use [`Font::name`]
    /// or the requested fontstack).
    pub fn glyphs(&self, fontstack: &str, start: u32, end: u32) -> Result<Vec<u8>, FontError> {
        let stack = self.fontstack(fontstack, start, end)?;
        Ok(proto::Glyphs {
            stacks: vec![stack],
        }
        .encode_to_vec())
    }

    /// Like [`Font::glyphs`], but returns the message rather than its encoding, e.g. to
    /// merge the glyphs of several fonts into one composite fontstack.
    pub fn fontstack(
        &self,
        fontstack: &str,
        start: u32,
        end: u32,
    ) -> Result<proto::Fontstack, FontError> {
        check_range(start, end).map_err(|()| FontError::BadRange(format!("{start}-{end}")))?;
        let face = self.face();
        let ctx = RenderContext::new(&face);
        let mut glyphs = Vec::new();
        for code_point in start..=end {
            if let Some(glyph) = ctx.render(code_point)? {
                glyphs.push(glyph);
            }
        }
        Ok(proto::Fontstack {
            name: fontstack.to_owned(),
            range: format!("{start}-{end}"),
            glyphs,
        })
    }

    fn face(&self) -> Face<'_> {
        // The same bytes and index parsed successfully in `from_bytes`, and parsing is
        // deterministic, so this cannot fail.
        Face::parse(&self.data, self.index).expect("font was validated at construction")
    }
}

/// Lists the faces of a font file as `(index, name)`, `name` as [`Font::name`] gives it.
pub fn faces(path: &Path) -> Result<Vec<(u32, String)>, FontError> {
    faces_from_bytes(&read_file(path)?)
}

/// Lists the faces of font data as `(index, name)`, `name` as [`Font::name`] gives it.
pub fn faces_from_bytes(bytes: &[u8]) -> Result<Vec<(u32, String)>, FontError> {
    (0..face_count(bytes)?)
        .map(|index| {
            let (family, style) = face_names(&parse_face(bytes, index)?);
            Ok((index, full_name(&family, &style)))
        })
        .collect()
}

/// Parses "0-255" etc., checking alignment; error otherwise.
///
/// The range must be `START-END` in decimal with `START % 256 == 0`,
/// `END == START + 255` and `END <= 0x10FFFF`. A trailing `.pbf` is accepted.
pub fn parse_range(s: &str) -> Result<(u32, u32), FontError> {
    let bad = || FontError::BadRange(s.to_owned());
    let body = s.strip_suffix(".pbf").unwrap_or(s);
    let (a, b) = body.split_once('-').ok_or_else(bad)?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return Err(bad());
    }
    let start: u32 = a.parse().map_err(|_| bad())?;
    let end: u32 = b.parse().map_err(|_| bad())?;
    check_range(start, end).map_err(|()| bad())?;
    Ok((start, end))
}

fn check_range(start: u32, end: u32) -> Result<(), ()> {
    if start.is_multiple_of(RANGE_LEN)
        && end.checked_sub(start) == Some(RANGE_LEN - 1)
        && end <= MAX_CODE_POINT
    {
        Ok(())
    } else {
        Err(())
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, FontError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            FontError::NotFound {
                path: path.to_owned(),
            }
        } else {
            FontError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })
}

/// Number of faces: the collection's count, or 1 for a single font.
fn face_count(bytes: &[u8]) -> Result<u32, FontError> {
    match ttf_parser::fonts_in_collection(bytes) {
        Some(n) => Ok(n),
        // Not a collection: valid only if it parses as a single font.
        None => parse_face(bytes, 0).map(|_| 1),
    }
}

fn parse_face(bytes: &[u8], index: u32) -> Result<Face<'_>, FontError> {
    Face::parse(bytes, index).map_err(|e| match e {
        FaceParsingError::FaceIndexOutOfBounds => FontError::FaceIndexOutOfRange {
            index,
            count: ttf_parser::fonts_in_collection(bytes).unwrap_or(1),
        },
        other => FontError::NotAFont(other.to_string()),
    })
}

fn full_name(family: &str, style: &str) -> String {
    if style.is_empty() {
        family.to_owned()
    } else {
        format!("{family} {style}")
    }
}

/// Family and style names as FreeType reports them: the typographic names (IDs 16/17)
/// when present, otherwise the legacy ones (IDs 1/2).
fn face_names(face: &Face<'_>) -> (String, String) {
    let family = name_string(face, name_id::TYPOGRAPHIC_FAMILY)
        .or_else(|| name_string(face, name_id::FAMILY))
        .or_else(|| name_string(face, name_id::POST_SCRIPT_NAME))
        .unwrap_or_else(|| "Unknown".to_owned());
    let style = name_string(face, name_id::TYPOGRAPHIC_SUBFAMILY)
        .or_else(|| name_string(face, name_id::SUBFAMILY))
        .unwrap_or_default();
    (family, style)
}

/// The best-matching English name record for `id` (Windows US English first, like
/// FreeType), decoded from UTF-16 or Mac Roman (ASCII part only).
fn name_string(face: &Face<'_>, id: u16) -> Option<String> {
    let mut best: Option<(u8, String)> = None;
    for record in face.names().into_iter().filter(|n| n.name_id == id) {
        let (rank, text) = match record.platform_id {
            PlatformId::Windows => {
                let rank = match record.language_id {
                    0x0409 => 0,
                    l if l & 0x3FF == 0x009 => 1,
                    _ => 4,
                };
                (rank, record.to_string())
            }
            PlatformId::Macintosh if record.encoding_id == 0 && record.language_id == 0 => {
                let ascii = record.name.is_ascii().then(|| {
                    String::from_utf8(record.name.to_vec()).expect("ASCII is valid UTF-8")
                });
                (2, ascii)
            }
            PlatformId::Unicode => (3, record.to_string()),
            _ => continue,
        };
        let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
            continue;
        };
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, text));
        }
    }
    best.map(|(_, text)| text)
}

/// Per-range rendering state: the face and its scaled metrics.
struct RenderContext<'a> {
    face: &'a Face<'a>,
    /// Pixels per font unit.
    scale: f64,
    /// Ascender in whole pixels, rounded up (FreeType's `size_metrics.ascender >> 6`).
    ascender: i32,
}

impl<'a> RenderContext<'a> {
    fn new(face: &'a Face<'a>) -> Self {
        let scale = f64::from(FONT_SIZE) / f64::from(face.units_per_em());
        // FreeType takes the hhea ascender, falling back to OS/2 when hhea has neither an
        // ascender nor a descender.
        let hhea = face.tables().hhea;
        let mut ascender = hhea.ascender;
        if hhea.ascender == 0
            && hhea.descender == 0
            && let Some(os2) = face.tables().os2
        {
            ascender = if os2.typographic_ascender() != 0 || os2.typographic_descender() != 0 {
                os2.typographic_ascender()
            } else {
                os2.windows_ascender()
            };
        }
        let ascender = ceil_px(to_26_6(f64::from(ascender) * scale));
        RenderContext {
            face,
            scale,
            ascender,
        }
    }

    /// Renders one code point, or `None` when the font has no glyph for it.
    fn render(&self, code_point: u32) -> Result<Option<proto::Glyph>, FontError> {
        let Some(glyph_id) = char::from_u32(code_point)
            .and_then(|c| self.face.glyph_index(c))
            .filter(|id| id.0 != 0)
        else {
            return Ok(None);
        };
        let advance = self.face.glyph_hor_advance(glyph_id).unwrap_or(0);
        // 26.6 fixed point truncated to whole pixels, as FreeType's `horiAdvance >> 6`.
        let advance = u32::try_from(to_26_6(f64::from(advance) * self.scale) >> 6).unwrap_or(0);

        let mut glyph = proto::Glyph {
            id: code_point,
            bitmap: None,
            width: 0,
            height: 0,
            left: 0,
            top: -self.ascender,
            advance,
        };
        let Some(outline) = self.outline(glyph_id) else {
            return Ok(Some(glyph)); // no ink, e.g. a space
        };
        // Pixel-aligned control box, as FreeType's bitmap: floor the minimum, ceil the maximum.
        let left = floor_px(outline.x_min);
        let bottom = floor_px(outline.y_min);
        let right = ceil_px(outline.x_max);
        let top = ceil_px(outline.y_max);
        let width = u32::try_from(right - left).unwrap_or(0);
        let height = u32::try_from(top - bottom).unwrap_or(0);
        if width == 0 || height == 0 {
            return Ok(Some(glyph));
        }
        if width > MAX_GLYPH_PX || height > MAX_GLYPH_PX {
            return Ok(None);
        }

        let alpha = outline.rasterize(left, top, width as usize, height as usize);
        let sdf_error = |source| FontError::Sdf { code_point, source };
        let bitmap = BitmapGlyph::from_unbuffered(&alpha, width as usize, height as usize, BUFFER)
            .map_err(sdf_error)?;
        let sdf = clamp_to_u8(&bitmap.render_sdf(RADIUS), CUTOFF).map_err(sdf_error)?;

        glyph.bitmap = Some(sdf);
        glyph.width = width;
        glyph.height = height;
        glyph.left = left;
        glyph.top = top - self.ascender;
        Ok(Some(glyph))
    }

    fn outline(&self, glyph_id: GlyphId) -> Option<Outline> {
        let mut outline = Outline {
            scale: self.scale as f32,
            segments: Vec::new(),
            x_min: i64::MAX,
            y_min: i64::MAX,
            x_max: i64::MIN,
            y_max: i64::MIN,
        };
        self.face.outline_glyph(glyph_id, &mut outline)?;
        (!outline.segments.is_empty()).then_some(outline)
    }
}

/// Converts pixels to FreeType's 26.6 fixed point.
fn to_26_6(px: f64) -> i64 {
    (px * 64.0).round() as i64
}

fn floor_px(v: i64) -> i32 {
    i32::try_from(v.div_euclid(64)).unwrap_or(i32::MAX)
}

fn ceil_px(v: i64) -> i32 {
    i32::try_from((v + 63).div_euclid(64)).unwrap_or(i32::MAX)
}

/// Outline segment, in pixels, y up.
#[derive(Clone, Copy)]
enum Segment {
    Move(Point),
    Line(Point),
    Quad(Point, Point),
    Cubic(Point, Point, Point),
    Close,
}

/// A glyph outline scaled to pixels, with its control box in 26.6 fixed point (like
/// FreeType's `FT_Outline_Get_CBox`, control points included).
struct Outline {
    scale: f32,
    segments: Vec<Segment>,
    x_min: i64,
    y_min: i64,
    x_max: i64,
    y_max: i64,
}

impl Outline {
    fn point(&mut self, x: f32, y: f32) -> Point {
        let p = point(x * self.scale, y * self.scale);
        let (fx, fy) = (to_26_6(f64::from(p.x)), to_26_6(f64::from(p.y)));
        self.x_min = self.x_min.min(fx);
        self.x_max = self.x_max.max(fx);
        self.y_min = self.y_min.min(fy);
        self.y_max = self.y_max.max(fy);
        p
    }

    /// Rasterizes into a `width` x `height` coverage bitmap (rows top to bottom) whose
    /// top-left corner is at pixel (`left`, `top`) in y-up glyph space.
    fn rasterize(&self, left: i32, top: i32, width: usize, height: usize) -> Vec<u8> {
        let (dx, dy) = (left as f32, top as f32);
        let map = |p: Point| point(p.x - dx, dy - p.y);
        let mut raster = Rasterizer::new(width, height);
        let mut start = point(0.0, 0.0);
        let mut current = start;
        let mut open = false;
        for segment in &self.segments {
            match *segment {
                Segment::Move(p) => {
                    if open && current != start {
                        raster.draw_line(map(current), map(start));
                    }
                    start = p;
                    current = p;
                    open = true;
                }
                Segment::Line(p) => {
                    raster.draw_line(map(current), map(p));
                    current = p;
                }
                Segment::Quad(c, p) => {
                    raster.draw_quad(map(current), map(c), map(p));
                    current = p;
                }
                Segment::Cubic(c1, c2, p) => {
                    raster.draw_cubic(map(current), map(c1), map(c2), map(p));
                    current = p;
                }
                Segment::Close => {
                    if current != start {
                        raster.draw_line(map(current), map(start));
                    }
                    current = start;
                    open = false;
                }
            }
        }
        if open && current != start {
            raster.draw_line(map(current), map(start));
        }
        let mut alpha = vec![0u8; width * height];
        raster.for_each_pixel(|i, coverage| {
            alpha[i] = (coverage.min(1.0) * 255.0).round() as u8;
        });
        alpha
    }
}

impl OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        let p = self.point(x, y);
        self.segments.push(Segment::Move(p));
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let p = self.point(x, y);
        self.segments.push(Segment::Line(p));
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let c = self.point(x1, y1);
        let p = self.point(x, y);
        self.segments.push(Segment::Quad(c, p));
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let c1 = self.point(x1, y1);
        let c2 = self.point(x2, y2);
        let p = self.point(x, y);
        self.segments.push(Segment::Cubic(c1, c2, p));
    }

    fn close(&mut self) {
        self.segments.push(Segment::Close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Font>();
        assert_send_sync::<FontError>();
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("0-255").unwrap(), (0, 255));
        assert_eq!(parse_range("27392-27647").unwrap(), (0x6B00, 0x6BFF));
        assert_eq!(parse_range("65280-65535.pbf").unwrap(), (65280, 65535));
        for bad in [
            "1-256",
            "0-256",
            "0-254",
            "256-0",
            "",
            "-",
            "0-",
            "-255",
            "+0-255",
            "0-+255",
            "a-b",
            "0 - 255",
            "0--255",
            "1114112-1114367",
            "4294967040-4294967295",
        ] {
            assert!(
                matches!(parse_range(bad), Err(FontError::BadRange(ref s)) if s == bad),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn fixed_point_rounding() {
        assert_eq!(floor_px(-1), -1);
        assert_eq!(floor_px(64), 1);
        assert_eq!(ceil_px(1), 1);
        assert_eq!(ceil_px(-64), -1);
        assert_eq!(ceil_px(to_26_6(27.84)), 28);
    }
}
