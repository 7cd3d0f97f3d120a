//! Protobuf messages of the Mapbox/MapLibre `glyphs.proto` (package `llmr.glyphs`).
//!
//! ```proto
//! message glyph {
//!   required uint32 id = 1;
//!   optional bytes bitmap = 2;   // SDF, (width + 2 * 3) * (height + 2 * 3) bytes
//!   required uint32 width = 3;
//!   required uint32 height = 4;
//!   required sint32 left = 5;
//!   required sint32 top = 6;
//!   required uint32 advance = 7;
//! }
//! message fontstack {
//!   required string name = 1;
//!   required string range = 2;
//!   repeated glyph glyphs = 3;
//! }
//! message glyphs {
//!   repeated fontstack stacks = 1;
//!   extensions 16 to 8191;
//! }
//! ```
//!
//! The types are declared by hand with `prost`'s derive macro, so no `protoc` or build
//! script is needed. They are public so that callers (and tests) can decode a PBF with
//! [`prost::Message::decode`].

/// One glyph: its SDF bitmap and metrics, in pixels at the rendering size.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Glyph {
    /// The Unicode code point.
    #[prost(uint32, required, tag = "1")]
    pub id: u32,
    /// Signed distance field with a 3 px border; absent for glyphs without ink (e.g. space).
    #[prost(bytes = "vec", optional, tag = "2")]
    pub bitmap: Option<Vec<u8>>,
    /// Width of the glyph's ink box, without the border.
    #[prost(uint32, required, tag = "3")]
    pub width: u32,
    /// Height of the glyph's ink box, without the border.
    #[prost(uint32, required, tag = "4")]
    pub height: u32,
    /// Horizontal offset from the pen position to the ink box's left edge.
    #[prost(sint32, required, tag = "5")]
    pub left: i32,
    /// Vertical offset of the ink box's top edge, relative to the font's ascender
    /// (the value is `bitmap_top - ascender`, as fontnik and pbf_font_tools encode it).
    #[prost(sint32, required, tag = "6")]
    pub top: i32,
    /// Horizontal advance.
    #[prost(uint32, required, tag = "7")]
    pub advance: u32,
}

/// The glyphs of one font stack and range.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Fontstack {
    /// The font stack name, e.g. `"Noto Sans CJK SC Regular"`.
    #[prost(string, required, tag = "1")]
    pub name: String,
    /// The range, e.g. `"27392-27647"`.
    #[prost(string, required, tag = "2")]
    pub range: String,
    /// The glyphs present in the font, in code point order.
    #[prost(message, repeated, tag = "3")]
    pub glyphs: Vec<Glyph>,
}

/// The top-level message of a glyph PBF.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Glyphs {
    /// One entry per font stack (this crate always writes exactly one).
    #[prost(message, repeated, tag = "1")]
    pub stacks: Vec<Fontstack>,
}
