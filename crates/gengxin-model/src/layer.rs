use chrono::{DateTime, Datelike, NaiveDate, Utc};
use geo_types::{Geometry, MultiLineString, MultiPolygon};

use crate::feature::{Feature, Value};
use crate::vocab::{self, Code};

/// The two databases of the "2 + 5 + 1" design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Database {
    /// 城市更新库
    Renewal,
    /// 社区治理库
    Community,
    /// Gengxin's own tables: accounts, sessions, audit, reporting (never served as layers).
    System,
}

impl Database {
    pub fn name(self) -> &'static str {
        match self {
            Database::Renewal => "renewal",
            Database::Community => "community",
            Database::System => "gengxin",
        }
    }
}

/// Who may see a layer's rows. The rules per role live in `gengxin-auth`; the model only
/// classifies the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Base and published data (admin units, parcels, buildings, facilities, evaluations …):
    /// everyone reads, the public included.
    Public,
    /// Project management records, scoped by the project's district and the projects an entity
    /// runs.
    Projects,
    /// A community's operational records (supplies, deliveries), scoped by community.
    Community,
    /// Personal information (PIPL): the community worker of the row's community and the city
    /// administrator only.
    Personal,
    /// Gengxin's own bookkeeping (accounts, sessions, audit, imports, reporting): never served
    /// by the generic layer endpoints, only by the endpoints made for them.
    System,
}

/// The geometry type of a feature layer. Polygons and lines are stored as their multi-types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryType {
    Point,
    MultiLineString,
    MultiPolygon,
    /// Any of points, multipoints, (multi)lines and (multi)polygons: custom layers.
    Any,
}

impl FieldType {
    /// The short code of the type as the API and stored definitions spell it.
    pub fn code(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Int => "int",
            FieldType::Real => "real",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
        }
    }

    /// The type with this [`FieldType::code`].
    pub fn from_code(code: &str) -> Option<FieldType> {
        [
            FieldType::Text,
            FieldType::Int,
            FieldType::Real,
            FieldType::Bool,
            FieldType::Date,
            FieldType::DateTime,
        ]
        .into_iter()
        .find(|t| t.code() == code)
    }
}

impl GeometryType {
    /// The OGC name, as GeoPackage and PostGIS spell it.
    pub fn ogc_name(self) -> &'static str {
        match self {
            GeometryType::Point => "POINT",
            GeometryType::MultiLineString => "MULTILINESTRING",
            GeometryType::MultiPolygon => "MULTIPOLYGON",
            GeometryType::Any => "GEOMETRY",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Int,
    Real,
    Bool,
    /// `YYYY-MM-DD`
    Date,
    /// RFC 3339
    DateTime,
}

/// One declared property of a layer.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
    /// When set, a text value must be one of these codes.
    pub codes: Option<&'static [Code]>,
    pub zh: &'static str,
}

/// Every layer of both databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerId {
    AdminUnits,
    RenewalObjects,
    Parcels,
    Buildings,
    Roads,
    PlanZones,
    Projects,
    Milestones,
    ProgressReports,
    Attachments,
    Grids,
    Population,
    Facilities,
    EpidemicCases,
    SpecialPopulations,
    Supplies,
    Deliveries,
    ResidentReports,
    Imports,
    CustomLayers,
    CustomFeatures,
    CustomRows,
    SavedQueries,
    LifeCircleRules,
    LifeCircleParcels,
    LifeCircleCommunities,
    Organisations,
    Users,
    Sessions,
    ApiTokens,
    AuditLog,
    Sequences,
    ReportForms,
    Submissions,
    ReportTasks,
    Jobs,
    RecordHistory,
}

/// A table of one database: its name, geometry and fields.
#[derive(Debug)]
pub struct Layer {
    pub id: LayerId,
    pub database: Database,
    /// Unique across both databases; the name used by the API.
    pub name: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    /// `None` for attribute (non-spatial) layers.
    pub geometry: Option<GeometryType>,
    pub fields: &'static [Field],
    /// Who may read and write it (see [`Access`]).
    pub access: Access,
}

/// Why a feature does not fit its layer. Messages name the layer, the feature and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    #[error("{layer}: feature id must be 1–128 printable characters, got {id:?}")]
    BadId { layer: &'static str, id: String },
    #[error("{layer}/{id}: provenance must be non-empty text")]
    NoProvenance { layer: &'static str, id: String },
    #[error("{layer}/{id}: unknown field `{field}`")]
    UnknownField {
        layer: &'static str,
        id: String,
        field: String,
    },
    #[error("{layer}/{id}: required field `{field}` is missing")]
    MissingField {
        layer: &'static str,
        id: String,
        field: &'static str,
    },
    #[error("{layer}/{id}: field `{field}` expects {expected}, got {got}")]
    WrongType {
        layer: &'static str,
        id: String,
        field: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("{layer}/{id}: field `{field}` has code {got:?}, not one of its code list")]
    UnknownCode {
        layer: &'static str,
        id: String,
        field: &'static str,
        got: String,
    },
    #[error("{layer}/{id}: version must be 1 or more, got {version}")]
    BadVersion {
        layer: &'static str,
        id: String,
        version: i64,
    },
    #[error("{layer}/{id}: {problem}")]
    Geometry {
        layer: &'static str,
        id: String,
        problem: String,
    },
}

impl Layer {
    /// The layer's table name where a store has no schemas (GeoPackage): `{database}_{name}`.
    pub fn table(&self) -> String {
        format!("{}_{}", self.database.name(), self.name)
    }

    /// Holds personal information (PIPL).
    pub fn personal(&self) -> bool {
        self.access == Access::Personal
    }

    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn by_id(id: LayerId) -> &'static Layer {
        catalogue()
            .iter()
            .find(|l| l.id == id)
            .expect("every LayerId is in the catalogue")
    }

    pub fn by_name(name: &str) -> Option<&'static Layer> {
        catalogue().iter().find(|l| l.name == name)
    }

    /// Normalises a feature to this layer (polygons to multipolygons, integers in real fields to
    /// reals) and checks it: id, provenance, geometry type and coordinate range, field names,
    /// types and code lists, required fields.
    pub fn check(&self, mut f: Feature) -> Result<Feature, ValidationError> {
        let layer = self.name;
        if f.id.is_empty() || f.id.chars().count() > 128 || f.id.chars().any(char::is_control) {
            return Err(ValidationError::BadId { layer, id: f.id });
        }
        if f.provenance.trim().is_empty() || f.provenance.contains('\0') {
            return Err(ValidationError::NoProvenance { layer, id: f.id });
        }
        // Every backend keeps timestamps to the millisecond, the precision of their text form.
        f.created_at = to_millis(f.created_at);
        f.updated_at = to_millis(f.updated_at);
        if f.version < 1 {
            return Err(ValidationError::BadVersion {
                layer,
                id: f.id,
                version: f.version,
            });
        }
        let geo_err = |id: &str, problem: String| ValidationError::Geometry {
            layer,
            id: id.to_owned(),
            problem,
        };
        f.geometry = match (self.geometry, f.geometry.take()) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(geo_err(&f.id, "attribute layer takes no geometry".into()));
            }
            (Some(_), None) => return Err(geo_err(&f.id, "geometry is missing".into())),
            (Some(want), Some(g)) => Some(normalise(want, g).map_err(|p| geo_err(&f.id, p))?),
        };
        if let Some(g) = &f.geometry {
            check_coordinates(g).map_err(|p| geo_err(&f.id, p))?;
        }
        for (name, value) in f.properties.iter_mut() {
            let Some(field) = self.field(name) else {
                return Err(ValidationError::UnknownField {
                    layer,
                    id: f.id.clone(),
                    field: name.clone(),
                });
            };
            check_value(field, value).map_err(|(expected, got)| match expected {
                "code" => ValidationError::UnknownCode {
                    layer,
                    id: f.id.clone(),
                    field: field.name,
                    got,
                },
                _ => ValidationError::WrongType {
                    layer,
                    id: f.id.clone(),
                    field: field.name,
                    expected,
                    got,
                },
            })?;
        }
        f.properties.retain(|_, v| *v != Value::Null);
        if let Some(missing) = self
            .fields
            .iter()
            .find(|fd| fd.required && !f.properties.contains_key(fd.name))
        {
            return Err(ValidationError::MissingField {
                layer,
                id: f.id,
                field: missing.name,
            });
        }
        Ok(f)
    }
}

fn normalise(want: GeometryType, g: Geometry<f64>) -> Result<Geometry<f64>, String> {
    Ok(match (want, g) {
        (GeometryType::Point, g @ Geometry::Point(_)) => g,
        (GeometryType::MultiPolygon, g @ Geometry::MultiPolygon(_)) => g,
        (GeometryType::MultiPolygon, Geometry::Polygon(p)) => MultiPolygon(vec![p]).into(),
        (GeometryType::MultiLineString, g @ Geometry::MultiLineString(_)) => g,
        (GeometryType::MultiLineString, Geometry::LineString(l)) => MultiLineString(vec![l]).into(),
        (GeometryType::Any, g @ (Geometry::GeometryCollection(_) | Geometry::Line(_))) => {
            return Err(format!("{} cannot be stored", geometry_name(&g)));
        }
        (GeometryType::Any, Geometry::Polygon(p)) => MultiPolygon(vec![p]).into(),
        (GeometryType::Any, Geometry::Rect(r)) => MultiPolygon(vec![r.to_polygon()]).into(),
        (GeometryType::Any, Geometry::Triangle(t)) => MultiPolygon(vec![t.to_polygon()]).into(),
        (GeometryType::Any, Geometry::LineString(l)) => MultiLineString(vec![l]).into(),
        (GeometryType::Any, g) => g,
        (want, g) => {
            return Err(format!(
                "expected {}, got {}",
                want.ogc_name(),
                geometry_name(&g)
            ));
        }
    })
}

/// The OGC name of a geometry's type.
pub fn geometry_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "POINT",
        Geometry::Line(_) | Geometry::LineString(_) => "LINESTRING",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "POLYGON",
        Geometry::MultiPoint(_) => "MULTIPOINT",
        Geometry::MultiLineString(_) => "MULTILINESTRING",
        Geometry::MultiPolygon(_) => "MULTIPOLYGON",
        Geometry::GeometryCollection(_) => "GEOMETRYCOLLECTION",
    }
}

fn check_coordinates(g: &Geometry<f64>) -> Result<(), String> {
    use geo::CoordsIter;
    let mut n = 0usize;
    for c in g.coords_iter() {
        n += 1;
        if !c.x.is_finite() || !c.y.is_finite() {
            return Err("coordinate is not a finite number".into());
        }
        if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
            return Err(format!(
                "coordinate ({}, {}) is outside lon/lat range; geometries are stored in EPSG:4490 degrees",
                c.x, c.y
            ));
        }
    }
    if n == 0 {
        return Err("geometry is empty".into());
    }
    check_parts(g)
}

/// Parts every backend can store: rings closed with at least 4 points, lines of at least 2.
fn check_parts(g: &Geometry<f64>) -> Result<(), String> {
    match g {
        Geometry::MultiPolygon(mp) => {
            for p in mp {
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    if ring.0.len() < 4 || !ring.is_closed() {
                        return Err(format!(
                            "polygon ring has {} points; a ring needs at least 4, the last equal to the first",
                            ring.0.len()
                        ));
                    }
                }
            }
        }
        Geometry::MultiLineString(ml) => {
            if let Some(l) = ml.0.iter().find(|l| l.0.len() < 2) {
                return Err(format!(
                    "line has {} point(s); a line needs at least 2",
                    l.0.len()
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    let ms = t.timestamp_millis();
    DateTime::from_timestamp_millis(ms).expect("a valid timestamp truncated stays valid")
}

/// Checks (and where lossless, converts) a value for its field. On error returns what was
/// expected and what was found.
fn check_value(field: &Field, v: &mut Value) -> Result<(), (&'static str, String)> {
    let got = || format!("{v:?}");
    match (field.ty, &*v) {
        (_, Value::Null) => Ok(()),
        (FieldType::Real, Value::Real(r)) if !r.is_finite() => Err(("a finite number", got())),
        // SQLite stores -0.0 as 0: one zero in every store.
        (FieldType::Real, Value::Real(r)) if *r == 0.0 => {
            *v = Value::Real(0.0);
            Ok(())
        }
        (FieldType::Int, Value::Int(_))
        | (FieldType::Real, Value::Real(_))
        | (FieldType::Bool, Value::Bool(_)) => Ok(()),
        (FieldType::Real, Value::Int(i)) => {
            *v = Value::Real(*i as f64);
            Ok(())
        }
        (FieldType::Text, Value::Text(s)) if s.contains('\0') => {
            Err(("text without NUL characters", got()))
        }
        (FieldType::Text, Value::Text(s)) => match field.codes {
            Some(list) if vocab::find(list, s).is_none() => Err(("code", s.clone())),
            _ => Ok(()),
        },
        (FieldType::Date, Value::Text(s)) if is_date(s) => Ok(()),
        (FieldType::DateTime, Value::Text(s)) if is_timestamp(s) => {
            // One text form in every store: UTC, milliseconds.
            let t = DateTime::parse_from_rfc3339(s).expect("checked");
            *v = Value::Text(crate::timestamp(&to_millis(t.with_timezone(&Utc))));
            Ok(())
        }
        (ty, _) => Err((type_name(ty), got())),
    }
}

/// A calendar date written exactly `YYYY-MM-DD` (chrono alone would also take `2026-1-1`).
/// Years run 0001–9999 (the range every backend and GeoPackage's text dates share).
pub fn is_date(s: &str) -> bool {
    s.len() == 10 && !s.starts_with("0000") && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// An RFC 3339 timestamp in the years 0001–9999 (UTC).
pub fn is_timestamp(s: &str) -> bool {
    DateTime::parse_from_rfc3339(s)
        .is_ok_and(|t| (1..=9999).contains(&t.with_timezone(&Utc).year()))
}

/// How messages name a field type ("an integer", "a date YYYY-MM-DD" …).
pub fn type_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Text => "text",
        FieldType::Int => "an integer",
        FieldType::Real => "a number",
        FieldType::Bool => "a boolean",
        FieldType::Date => "a date YYYY-MM-DD",
        FieldType::DateTime => "an RFC 3339 timestamp",
    }
}

const fn f(name: &'static str, ty: FieldType, zh: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        codes: None,
        zh,
    }
}
const fn req(name: &'static str, ty: FieldType, zh: &'static str) -> Field {
    Field {
        name,
        ty,
        required: true,
        codes: None,
        zh,
    }
}
const fn code(name: &'static str, codes: &'static [Code], zh: &'static str) -> Field {
    Field {
        name,
        ty: FieldType::Text,
        required: true,
        codes: Some(codes),
        zh,
    }
}

use FieldType::{Bool, Date, DateTime as Ts, Int, Real, Text};

static CATALOGUE: &[Layer] = &[
    Layer {
        id: LayerId::AdminUnits,
        database: Database::Renewal,
        name: "admin_units",
        zh: "行政区划",
        en: "Administrative units",
        geometry: Some(GeometryType::MultiPolygon),
        access: Access::Public,
        fields: &[
            req("code", Text, "区划代码"),
            req("name", Text, "名称"),
            code("level", vocab::ADMIN_LEVELS, "层级"),
            code("kind", vocab::ADMIN_KINDS, "类型"),
            f("parent_code", Text, "上级区划代码"),
            f("area_m2", Real, "面积(平方米)"),
            f("code_source", Text, "区划代码来源"),
        ],
    },
    Layer {
        id: LayerId::RenewalObjects,
        database: Database::Renewal,
        name: "renewal_objects",
        zh: "更新对象",
        en: "Renewal objects",
        geometry: Some(GeometryType::MultiPolygon),
        access: Access::Public,
        fields: &[
            req("name", Text, "名称"),
            code("kind", vocab::RENEWAL_KINDS, "类型"),
            req("district_code", Text, "所属区"),
            f("street_code", Text, "所属街道"),
            f("community_code", Text, "所属社区/村"),
            f("area_m2", Real, "用地面积(平方米)"),
            f("building_area_m2", Real, "建筑面积(平方米)"),
            f("households", Int, "户数"),
            f("build_year", Int, "建成年代"),
        ],
    },
    Layer {
        id: LayerId::Parcels,
        database: Database::Renewal,
        name: "parcels",
        zh: "地块",
        en: "Land parcels",
        geometry: Some(GeometryType::MultiPolygon),
        access: Access::Public,
        fields: &[
            req("code", Text, "地块编号"),
            code("land_use", vocab::LAND_USES, "现状用地"),
            req("area_m2", Real, "面积(平方米)"),
            f("far", Real, "容积率"),
            f("building_density", Real, "建筑密度"),
            f("green_ratio", Real, "绿地率"),
            Field {
                codes: Some(vocab::LAND_USES),
                required: false,
                ..f("planned_use", Text, "规划用地")
            },
            f("planned_far", Real, "规划容积率"),
            req("district_code", Text, "所属区"),
            f("community_code", Text, "所属社区/村"),
            f("renewal_object_id", Text, "所属更新对象"),
        ],
    },
    Layer {
        id: LayerId::Buildings,
        database: Database::Renewal,
        name: "buildings",
        zh: "建筑",
        en: "Buildings",
        geometry: Some(GeometryType::MultiPolygon),
        access: Access::Public,
        fields: &[
            f("name", Text, "名称"),
            f("parcel_id", Text, "所属地块"),
            f("floors", Int, "层数"),
            f("height_m", Real, "高度(米)"),
            f("year_built", Int, "建成年份"),
            Field {
                codes: Some(vocab::BUILDING_STRUCTURES),
                required: false,
                ..f("structure", Text, "结构")
            },
            Field {
                codes: Some(vocab::BUILDING_USES),
                required: false,
                ..f("use", Text, "用途")
            },
            f("footprint_m2", Real, "基底面积(平方米)"),
            f("district_code", Text, "所属区"),
            f("community_code", Text, "所属社区/村"),
        ],
    },
    Layer {
        id: LayerId::Roads,
        database: Database::Renewal,
        name: "roads",
        zh: "道路",
        en: "Roads",
        geometry: Some(GeometryType::MultiLineString),
        access: Access::Public,
        fields: &[
            f("name", Text, "名称"),
            code("class", vocab::ROAD_CLASSES, "等级"),
            f("width_m", Real, "宽度(米)"),
            f("district_code", Text, "所属区"),
        ],
    },
    Layer {
        id: LayerId::PlanZones,
        database: Database::Renewal,
        name: "plan_zones",
        zh: "规划图层",
        en: "Plan layers",
        geometry: Some(GeometryType::MultiPolygon),
        access: Access::Public,
        fields: &[
            code("plan_kind", vocab::PLAN_KINDS, "规划类型"),
            req("name", Text, "名称"),
            f("plan_year", Int, "规划年份"),
            Field {
                codes: Some(vocab::LAND_USES),
                required: false,
                ..f("land_use", Text, "规划用地")
            },
            f("far", Real, "容积率"),
            f("district_code", Text, "所属区"),
            f("renewal_object_id", Text, "更新对象"),
            f("parcel_id", Text, "地块"),
        ],
    },
    Layer {
        id: LayerId::Projects,
        database: Database::Renewal,
        name: "projects",
        zh: "更新项目",
        en: "Renewal projects",
        geometry: None,
        access: Access::Projects,
        fields: &[
            req("code", Text, "项目编号"),
            req("name", Text, "项目名称"),
            req("renewal_object_id", Text, "更新对象"),
            req("district_code", Text, "所属区"),
            code("stage", vocab::PROJECT_STAGES, "当前阶段"),
            f("entity", Text, "改造主体"),
            f("investment_total_wan", Real, "总投资(万元)"),
            f("investment_done_wan", Real, "已完成投资(万元)"),
            f("progress_pct", Real, "总体进度(%)"),
            f("plan_year", Int, "计划年度"),
            req("start_date", Date, "开始日期"),
            req("planned_end_date", Date, "计划完成日期"),
            f("actual_end_date", Date, "实际完成日期"),
            f("parcel_ids", Text, "关联地块(JSON)"),
        ],
    },
    Layer {
        id: LayerId::Milestones,
        database: Database::Renewal,
        name: "milestones",
        zh: "项目节点",
        en: "Project milestones",
        geometry: None,
        access: Access::Projects,
        fields: &[
            req("project_id", Text, "项目"),
            req("seq", Int, "序号"),
            code("stage", vocab::PROJECT_STAGES, "阶段"),
            req("name", Text, "节点名称"),
            req("planned_date", Date, "计划日期"),
            f("actual_date", Date, "实际日期"),
            code("status", vocab::MILESTONE_STATUSES, "状态"),
        ],
    },
    Layer {
        id: LayerId::ProgressReports,
        database: Database::Renewal,
        name: "progress_reports",
        zh: "进度填报",
        en: "Progress reports",
        geometry: None,
        access: Access::Projects,
        fields: &[
            req("project_id", Text, "项目"),
            req("period", Text, "填报期(YYYY-MM)"),
            req("report_date", Date, "填报日期"),
            code("stage", vocab::PROJECT_STAGES, "阶段"),
            req("progress_pct", Real, "总体进度(%)"),
            f("investment_done_wan", Real, "累计完成投资(万元)"),
            f("note", Text, "说明"),
            f("reported_by", Text, "填报单位"),
        ],
    },
    Layer {
        id: LayerId::Attachments,
        database: Database::Renewal,
        name: "attachments",
        zh: "附件",
        en: "Attachments",
        geometry: None,
        access: Access::Projects,
        fields: &[
            req("owner_layer", Text, "所属图层"),
            req("owner_id", Text, "所属对象"),
            req("file_name", Text, "文件名"),
            req("media_type", Text, "类型"),
            req("size_bytes", Int, "大小(字节)"),
            req("sha256", Text, "SHA-256"),
            f("description", Text, "说明"),
        ],
    },
    Layer {
        id: LayerId::Grids,
        database: Database::Community,
        name: "grids",
        zh: "网格",
        en: "Grids",
        geometry: Some(GeometryType::MultiPolygon),
        access: Access::Public,
        fields: &[
            req("code", Text, "网格编码(15位)"),
            req("name", Text, "名称"),
            req("community_code", Text, "所属社区/村"),
            f("households", Int, "户数"),
        ],
    },
    Layer {
        id: LayerId::Population,
        database: Database::Community,
        name: "population",
        zh: "人口",
        en: "Population",
        geometry: None,
        access: Access::Public,
        fields: &[
            req("community_code", Text, "社区/村"),
            req("year", Int, "年份"),
            req("total", Int, "常住人口"),
            req("age_0_14", Int, "0-14岁"),
            req("age_15_59", Int, "15-59岁"),
            req("age_60_64", Int, "60-64岁"),
            req("age_65_plus", Int, "65岁及以上"),
            f("households", Int, "户数"),
            f("method", Text, "来源说明"),
        ],
    },
    Layer {
        id: LayerId::Facilities,
        database: Database::Community,
        name: "facilities",
        zh: "公共服务设施",
        en: "Public facilities",
        geometry: Some(GeometryType::Point),
        access: Access::Public,
        fields: &[
            req("name", Text, "名称"),
            code("category", vocab::FACILITY_CATEGORIES, "类别(GB 50180)"),
            code("tier", vocab::FACILITY_TIERS, "生活圈层级"),
            f("capacity", Int, "规模/容量"),
            f("floor_area_m2", Real, "建筑面积(平方米)"),
            f("district_code", Text, "所属区"),
            f("community_code", Text, "所属社区/村"),
        ],
    },
    Layer {
        id: LayerId::EpidemicCases,
        database: Database::Community,
        name: "epidemic_cases",
        zh: "疫情病例",
        en: "Epidemic cases",
        geometry: Some(GeometryType::Point),
        access: Access::Personal,
        fields: &[
            code("case_kind", vocab::EPIDEMIC_CASE_KINDS, "类型"),
            code("status", vocab::EPIDEMIC_CASE_STATUSES, "状态"),
            req("reported_date", Date, "报告日期"),
            f("age", Int, "年龄"),
            Field {
                codes: Some(vocab::SEXES),
                required: false,
                ..f("sex", Text, "性别")
            },
            f("building_id", Text, "所在建筑"),
            req("community_code", Text, "所属社区/村"),
        ],
    },
    Layer {
        id: LayerId::SpecialPopulations,
        database: Database::Community,
        name: "special_populations",
        zh: "特殊人群",
        en: "Special populations",
        geometry: Some(GeometryType::Point),
        access: Access::Personal,
        fields: &[
            code("kind", vocab::SPECIAL_POPULATION_KINDS, "类别"),
            req("person_name", Text, "姓名"),
            f("phone", Text, "联系电话"),
            f("birth_year", Int, "出生年份"),
            Field {
                codes: Some(vocab::SEXES),
                required: false,
                ..f("sex", Text, "性别")
            },
            f("needs", Text, "需求"),
            f("building_id", Text, "所在建筑"),
            req("community_code", Text, "所属社区/村"),
        ],
    },
    Layer {
        id: LayerId::Supplies,
        database: Database::Community,
        name: "supplies",
        zh: "应急物资",
        en: "Emergency supplies",
        geometry: None,
        access: Access::Community,
        fields: &[
            req("community_code", Text, "社区/村"),
            req("item", Text, "物资"),
            req("unit", Text, "单位"),
            req("quantity", Real, "库存"),
            f("min_quantity", Real, "最低储备"),
            f("as_of", Date, "盘点日期"),
        ],
    },
    Layer {
        id: LayerId::Deliveries,
        database: Database::Community,
        name: "deliveries",
        zh: "物资配送",
        en: "Supply deliveries",
        geometry: None,
        access: Access::Community,
        fields: &[
            req("community_code", Text, "社区/村"),
            req("item", Text, "物资"),
            req("quantity", Real, "数量"),
            code("status", vocab::DELIVERY_STATUSES, "状态"),
            req("requested_at", Ts, "申请时间"),
            f("delivered_at", Ts, "送达时间"),
            f("building_id", Text, "送达建筑"),
        ],
    },
    Layer {
        id: LayerId::ResidentReports,
        database: Database::Community,
        name: "resident_reports",
        zh: "居民反映问题",
        en: "Resident reports",
        geometry: Some(GeometryType::Point),
        access: Access::Public,
        fields: &[
            code("category", vocab::REPORT_CATEGORIES, "类别"),
            req("description", Text, "描述"),
            code("status", vocab::REPORT_STATUSES, "状态"),
            req("reported_at", Ts, "反映时间"),
            f("closed_at", Ts, "结案时间"),
            f("address", Text, "地址"),
            req("community_code", Text, "所属社区/村"),
            f("anonymous", Bool, "匿名"),
        ],
    },
    Layer {
        id: LayerId::Imports,
        database: Database::Renewal,
        name: "imports",
        zh: "数据导入记录",
        en: "Data imports",
        geometry: None,
        access: Access::System,
        fields: &[
            req("layer", Text, "目标图层"),
            req("file_name", Text, "源文件"),
            req("sha256", Text, "源文件SHA-256"),
            req("format", Text, "格式"),
            f("crs", Text, "源坐标系"),
            f("encoding", Text, "源编码"),
            req("imported_by", Text, "导入人"),
            req("imported_at", Ts, "导入时间"),
            req("read", Int, "读取要素数"),
            req("imported", Int, "导入要素数"),
            req("skipped", Int, "跳过要素数"),
            req("repaired", Int, "修复要素数"),
            f("report", Text, "校验报告(JSON)"),
            req("feature_ids", Text, "导入要素ID(JSON)"),
            code("state", vocab::IMPORT_STATES, "状态"),
            f("undone_at", Ts, "撤销时间"),
        ],
    },
    Layer {
        id: LayerId::CustomLayers,
        database: Database::Renewal,
        name: "custom_layers",
        zh: "自定义图层",
        en: "Custom layers",
        geometry: None,
        access: Access::Public,
        fields: &[
            req("title", Text, "名称"),
            req("fields", Text, "字段(JSON)"),
            f("geometry_type", Text, "几何类型"),
            f("import_id", Text, "创建导入"),
            Field {
                codes: Some(vocab::CUSTOM_ACCESS),
                required: false,
                ..f("access", Text, "访问范围")
            },
            f("organisation_id", Text, "所属单位"),
        ],
    },
    Layer {
        id: LayerId::CustomFeatures,
        database: Database::Renewal,
        name: "custom_features",
        zh: "自定义图层要素",
        en: "Custom layer features",
        geometry: Some(GeometryType::Any),
        access: Access::Public,
        fields: &[
            req("layer_id", Text, "所属自定义图层"),
            req("properties", Text, "属性(JSON)"),
        ],
    },
    Layer {
        id: LayerId::CustomRows,
        database: Database::Renewal,
        name: "custom_rows",
        zh: "自定义表格记录",
        en: "Custom table rows",
        geometry: None,
        access: Access::Public,
        fields: &[
            req("layer_id", Text, "所属自定义图层"),
            req("properties", Text, "属性(JSON)"),
        ],
    },
    Layer {
        id: LayerId::SavedQueries,
        database: Database::Renewal,
        name: "saved_queries",
        zh: "保存的查询",
        en: "Saved queries",
        geometry: None,
        access: Access::System,
        fields: &[
            req("owner", Text, "所有者"),
            req("name", Text, "名称"),
            req("collection", Text, "查询图层"),
            f("filter", Text, "CQL2 条件"),
            code("filter_lang", vocab::FILTER_LANGS, "条件语言"),
            f("bbox", Text, "范围"),
            f("note", Text, "说明"),
        ],
    },
    Layer {
        id: LayerId::LifeCircleRules,
        database: Database::Community,
        name: "life_circle_rules",
        zh: "生活圈评价规则",
        en: "Life-circle rules",
        geometry: None,
        access: Access::Public,
        fields: &[
            code("category", vocab::FACILITY_CATEGORIES, "设施类别"),
            code("tier", vocab::FACILITY_TIERS, "生活圈层级"),
            req("radius_m", Real, "服务半径(米)"),
            code("obligation", vocab::RULE_OBLIGATIONS, "配置要求"),
            req("clause", Text, "条款依据"),
            f("value_source", Text, "数值来源"),
            f("enabled", Bool, "启用"),
        ],
    },
    Layer {
        id: LayerId::LifeCircleParcels,
        database: Database::Community,
        name: "life_circle_parcels",
        zh: "生活圈评价(地块)",
        en: "Life-circle evaluation by parcel",
        geometry: Some(GeometryType::MultiPolygon),
        access: Access::Public,
        fields: LIFE_CIRCLE_RESULT_FIELDS,
    },
    Layer {
        id: LayerId::LifeCircleCommunities,
        database: Database::Community,
        name: "life_circle_communities",
        zh: "生活圈评价(社区)",
        en: "Life-circle evaluation by community",
        geometry: Some(GeometryType::MultiPolygon),
        access: Access::Public,
        fields: LIFE_CIRCLE_RESULT_FIELDS,
    },
    Layer {
        id: LayerId::Organisations,
        database: Database::System,
        name: "organisations",
        zh: "单位",
        en: "Organisations",
        geometry: None,
        access: Access::System,
        fields: &[
            req("name", Text, "单位名称"),
            code("kind", vocab::ORGANISATION_KINDS, "单位类型"),
            f("district_code", Text, "所属区"),
            f("community_code", Text, "所属社区/村"),
        ],
    },
    Layer {
        id: LayerId::Users,
        database: Database::System,
        name: "users",
        zh: "用户",
        en: "Users",
        geometry: None,
        access: Access::System,
        fields: &[
            req("username", Text, "用户名"),
            f("display_name", Text, "姓名"),
            code("role", vocab::ROLES, "角色"),
            req("organisation_id", Text, "所属单位"),
            f("district_code", Text, "范围:区"),
            f("community_code", Text, "范围:社区/村"),
            f("project_ids", Text, "范围:项目(JSON)"),
            req("password_hash", Text, "口令散列(argon2id)"),
            req("password_changed_at", Ts, "口令修改时间"),
            f("password_history", Text, "历史口令散列(JSON)"),
            req("failed_logins", Int, "连续失败次数"),
            f("locked_until", Ts, "锁定至"),
            f("totp_secret", Text, "动态口令密钥"),
            f("totp_last_step", Int, "已用动态口令时间步"),
            f("disabled", Bool, "停用"),
        ],
    },
    Layer {
        id: LayerId::Sessions,
        database: Database::System,
        name: "sessions",
        zh: "会话",
        en: "Sessions",
        geometry: None,
        access: Access::System,
        fields: &[
            req("user_id", Text, "用户"),
            req("csrf", Text, "CSRF 令牌"),
            req("last_seen_at", Ts, "最近活动"),
            req("expires_at", Ts, "绝对过期时间"),
            f("ip", Text, "来源地址"),
        ],
    },
    Layer {
        id: LayerId::ApiTokens,
        database: Database::System,
        name: "api_tokens",
        zh: "接口令牌",
        en: "API tokens",
        geometry: None,
        access: Access::System,
        fields: &[
            req("user_id", Text, "用户"),
            req("name", Text, "用途"),
            f("expires_at", Ts, "过期时间"),
            f("revoked_at", Ts, "吊销时间"),
        ],
    },
    Layer {
        id: LayerId::AuditLog,
        database: Database::System,
        name: "audit_log",
        zh: "审计日志",
        en: "Audit log",
        geometry: None,
        access: Access::System,
        fields: &[
            req("seq", Int, "序号"),
            req("at", Ts, "时间"),
            f("actor", Text, "操作者"),
            f("role", Text, "角色"),
            code("action", vocab::AUDIT_ACTIONS, "操作"),
            code("outcome", vocab::AUDIT_OUTCOMES, "结果"),
            f("target_layer", Text, "对象图层"),
            f("target_id", Text, "对象"),
            f("ip", Text, "来源地址"),
            f("detail", Text, "详情"),
            req("prev_hash", Text, "前一条散列"),
            req("hash", Text, "本条散列"),
        ],
    },
    Layer {
        id: LayerId::Sequences,
        database: Database::System,
        name: "sequences",
        zh: "序列",
        en: "Sequences",
        geometry: None,
        access: Access::System,
        fields: &[req("value", Int, "当前值"), f("hash", Text, "链头散列")],
    },
    Layer {
        id: LayerId::ReportForms,
        database: Database::System,
        name: "report_forms",
        zh: "填报表单",
        en: "Report forms",
        geometry: None,
        access: Access::System,
        fields: &[
            req("form_code", Text, "表单编码"),
            req("form_version", Int, "版本"),
            req("name", Text, "名称"),
            f("renewal_kind", Text, "适用项目类型"),
            req("fields", Text, "字段定义(JSON)"),
            code("review_chain", vocab::REVIEW_CHAINS, "审核流程"),
            code("cycle", vocab::REPORT_CYCLES, "填报周期"),
            req("deadline_day", Int, "截止日(期后第几天)"),
            req("remind_days", Int, "提前提醒天数"),
            f("active", Bool, "启用"),
        ],
    },
    Layer {
        id: LayerId::Submissions,
        database: Database::System,
        name: "submissions",
        zh: "填报",
        en: "Submissions",
        geometry: None,
        access: Access::System,
        fields: &[
            req("form_id", Text, "表单(版本)"),
            req("project_id", Text, "项目"),
            req("district_code", Text, "所属区"),
            req("period", Text, "填报期"),
            code("status", vocab::SUBMISSION_STATES, "状态"),
            req("values", Text, "填报内容(JSON)"),
            req("author", Text, "填报人"),
            f("submitted_at", Ts, "提交时间"),
            f("reviews", Text, "审核记录(JSON)"),
            f("idempotency_key", Text, "幂等键"),
            f("change_id", Text, "合并变更"),
            f("checks", Text, "合理性检查(JSON)"),
            f("changes", Text, "批准时的变更(JSON)"),
        ],
    },
    Layer {
        id: LayerId::ReportTasks,
        database: Database::System,
        name: "report_tasks",
        zh: "填报任务",
        en: "Reporting tasks",
        geometry: None,
        access: Access::System,
        fields: &[
            req("form_code", Text, "表单编码"),
            req("project_id", Text, "项目"),
            req("district_code", Text, "所属区"),
            req("period", Text, "填报期"),
            req("deadline", Date, "截止日期"),
            code("status", vocab::TASK_STATES, "状态"),
            f("submission_id", Text, "填报"),
            f("reminded_at", Ts, "提醒时间"),
        ],
    },
    Layer {
        id: LayerId::Jobs,
        database: Database::System,
        name: "jobs",
        zh: "后台任务",
        en: "Jobs",
        geometry: None,
        access: Access::System,
        fields: &[
            code("kind", vocab::JOB_KINDS, "类型"),
            req("run_at", Ts, "计划时间"),
            code("status", vocab::JOB_STATES, "状态"),
            req("attempts", Int, "尝试次数"),
            f("payload", Text, "参数(JSON)"),
            f("last_error", Text, "最近错误"),
            f("done_at", Ts, "完成时间"),
        ],
    },
    Layer {
        id: LayerId::RecordHistory,
        database: Database::System,
        name: "record_history",
        zh: "变更历史",
        en: "Record history",
        geometry: None,
        access: Access::System,
        fields: &[
            req("layer", Text, "图层"),
            req("record_id", Text, "对象"),
            req("record_version", Int, "变更后版本"),
            req("at", Ts, "时间"),
            req("actor", Text, "操作者"),
            f("submission_id", Text, "来源填报"),
            f("before", Text, "原值(JSON)"),
            req("after", Text, "新值(JSON)"),
        ],
    },
];

/// The fields of both life-circle result layers (one row per residential parcel or community).
const LIFE_CIRCLE_RESULT_FIELDS: &[Field] = &[
    req("area_id", Text, "评价对象"),
    f("name", Text, "名称"),
    f("district_code", Text, "所属区"),
    f("community_code", Text, "所属社区/村"),
    req("residents", Real, "居住人口(估算)"),
    req("homes", Int, "住宅楼栋数"),
    f("unplaced", Int, "未接入路网楼栋数"),
    req("score_5min", Real, "五分钟生活圈得分"),
    req("score_10min", Real, "十分钟生活圈得分"),
    req("score_15min", Real, "十五分钟生活圈得分"),
    f("missing", Text, "缺失设施"),
    f("gaps", Text, "短板"),
    f("coverage", Text, "各类设施覆盖率(JSON)"),
    f("nearest_m", Text, "最近设施步行距离(JSON)"),
    req("rules_version", Text, "规则版本"),
    req("evaluated_at", FieldType::DateTime, "评价时间"),
];

/// Every layer of both databases, renewal first, in a fixed order that stores and exports keep.
pub fn catalogue() -> &'static [Layer] {
    CATALOGUE
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use geo_types::{LineString, Point, Polygon, polygon};

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    fn parcel() -> Feature {
        Feature::new("p1", crate::GENERATED, at())
            .with_geometry(
                polygon![(x: 114.0, y: 30.0), (x: 114.01, y: 30.0), (x: 114.01, y: 30.01)],
            )
            .set("code", "P-1")
            .set("land_use", "0701")
            .set("area_m2", 1000_i64)
            .set("district_code", "420102")
    }

    #[test]
    fn every_layer_id_is_in_the_catalogue_once_with_unique_names() {
        let mut names: Vec<_> = catalogue().iter().map(|l| l.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), catalogue().len());
        assert_eq!(Layer::by_id(LayerId::Parcels).table(), "renewal_parcels");
    }

    #[test]
    fn check_normalises_polygon_and_int_to_real() {
        let f = Layer::by_id(LayerId::Parcels).check(parcel()).unwrap();
        assert!(matches!(f.geometry, Some(Geometry::MultiPolygon(_))));
        assert_eq!(f.get("area_m2"), &Value::Real(1000.0));
    }

    #[test]
    fn check_refuses_what_does_not_fit() {
        let l = Layer::by_id(LayerId::Parcels);
        let e = l.check(parcel().set("land_use", "9999")).unwrap_err();
        assert!(
            matches!(
                e,
                ValidationError::UnknownCode {
                    field: "land_use",
                    ..
                }
            ),
            "{e}"
        );
        let e = l.check(parcel().set("colour", "red")).unwrap_err();
        assert_eq!(e.to_string(), "parcels/p1: unknown field `colour`");
        let mut p = parcel();
        p.properties.remove("code");
        assert!(matches!(
            l.check(p).unwrap_err(),
            ValidationError::MissingField { field: "code", .. }
        ));
        let e = l.check(parcel().set("far", "high")).unwrap_err();
        assert!(
            matches!(e, ValidationError::WrongType { field: "far", .. }),
            "{e}"
        );
        let e = l
            .check(parcel().with_geometry(Point::new(114.0, 30.0)))
            .unwrap_err();
        assert!(
            e.to_string().contains("expected MULTIPOLYGON, got POINT"),
            "{e}"
        );
        let e = l
            .check(parcel().with_geometry(polygon![(x: 500000.0, y: 3380000.0), (x: 500100.0, y: 3380000.0), (x: 500100.0, y: 3380100.0)]))
            .unwrap_err();
        assert!(e.to_string().contains("outside lon/lat range"), "{e}");
        let e = l
            .check(parcel().with_geometry(
                polygon![(x: f64::NAN, y: 30.0), (x: 114.0, y: 30.0), (x: 114.0, y: 30.1)],
            ))
            .unwrap_err();
        assert!(e.to_string().contains("finite"), "{e}");
        let mut p = parcel();
        p.id = String::new();
        assert!(matches!(
            l.check(p).unwrap_err(),
            ValidationError::BadId { .. }
        ));
        let e = Layer::by_id(LayerId::Projects).check(parcel()).unwrap_err();
        assert!(
            e.to_string().contains("attribute layer takes no geometry"),
            "{e}"
        );
    }

    #[test]
    fn dates_and_timestamps_must_parse() {
        let l = Layer::by_id(LayerId::Milestones);
        let m = Feature::new("m1", crate::GENERATED, at())
            .set("project_id", "x")
            .set("seq", 1_i64)
            .set("stage", "reserve")
            .set("name", "立项")
            .set("status", "done");
        assert!(
            l.check(m.clone().set("planned_date", "2026-02-30"))
                .is_err()
        );
        assert!(l.check(m.set("planned_date", "2026-02-28")).is_ok());
    }

    #[test]
    fn check_keeps_only_what_every_backend_stores_alike() {
        let l = Layer::by_id(LayerId::Parcels);
        let mut p = parcel();
        p.created_at = at() + chrono::Duration::microseconds(1_234_567);
        let f = l.check(p).unwrap();
        assert_eq!(crate::timestamp(&f.created_at), "2026-01-01T00:00:01.234Z");
        assert_eq!(f.created_at.timestamp_subsec_nanos(), 234_000_000);
        let e = l.check(parcel().set("code", "P\u{0}1")).unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
        let line: LineString<f64> = vec![(114.0, 30.0), (114.01, 30.0)].into();
        let e = l
            .check(parcel().with_geometry(Polygon::new(line, vec![])))
            .unwrap_err();
        assert!(e.to_string().contains("at least 4"), "{e}");
        let mut p = parcel();
        p.version = 0;
        assert!(matches!(
            l.check(p).unwrap_err(),
            ValidationError::BadVersion { .. }
        ));
        let f = l.check(parcel().set("far", -0.0)).unwrap();
        assert_eq!(f.get("far"), &Value::Real(0.0));
        assert!(matches!(f.get("far"), Value::Real(r) if r.is_sign_positive()));
        assert!(!is_date("0000-01-01"));
        assert!(!is_timestamp("0000-01-01T00:00:00Z"));
        let r = Layer::by_id(LayerId::ResidentReports);
        let ts = r
            .fields
            .iter()
            .find(|f| f.ty == FieldType::DateTime)
            .expect("a timestamp field");
        let mut v = Value::Text("2026-03-01T08:00:00.123456+08:00".into());
        check_value(ts, &mut v).unwrap();
        assert_eq!(v, Value::Text("2026-03-01T00:00:00.123Z".into()));
    }
}
