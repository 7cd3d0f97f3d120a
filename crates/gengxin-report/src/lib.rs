//! The reporting ("+1") mechanism's rules, pure: what a report form asks ([`FormField`]), whether
//! filled values are valid ([`validate`]), who may move a submission along the review chain
//! ([`transition`]), which period a date falls in and when it is due ([`Period`]), and what an
//! approved submission changes in the master data ([`merge`]).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use gengxin_model::{Feature, Value};
use serde::{Deserialize, Serialize};

/// The kinds of value a form field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Number,
    Integer,
    Text,
    Date,
    /// One of `choices`.
    Choice,
    Bool,
    /// The id of an uploaded attachment.
    Attachment,
}

/// One field of a report form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormField {
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// The longest text accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
    /// The project field an approved value is written to (`progress_pct`, `stage` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The project fields a form may write (the rest of a project is not reported).
pub const TARGETS: &[&str] = &[
    "stage",
    "progress_pct",
    "investment_done_wan",
    "actual_end_date",
];

/// Why a form definition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the fields must be a JSON array of field objects: {0}")]
    Json(String),
    #[error("a form needs at least one field")]
    Empty,
    #[error("field {0:?} appears twice")]
    Duplicate(String),
    #[error("field name {0:?} must be 1–40 letters, digits or '_'")]
    BadName(String),
    #[error("field {0:?} is a choice without choices")]
    NoChoices(String),
    #[error("field {field:?} writes to {target:?}, which is not one of {TARGETS:?}")]
    BadTarget { field: String, target: String },
}

/// Parses and checks a form's field list (JSON).
pub fn parse_fields(json: &str) -> Result<Vec<FormField>, FormError> {
    let fields: Vec<FormField> =
        serde_json::from_str(json).map_err(|e| FormError::Json(e.to_string()))?;
    if fields.is_empty() {
        return Err(FormError::Empty);
    }
    let mut seen = std::collections::HashSet::new();
    for f in &fields {
        let ok = (1..=40).contains(&f.name.len())
            && f.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(FormError::BadName(f.name.clone()));
        }
        if !seen.insert(f.name.as_str()) {
            return Err(FormError::Duplicate(f.name.clone()));
        }
        if f.kind == FieldKind::Choice && f.choices.is_empty() {
            return Err(FormError::NoChoices(f.name.clone()));
        }
        if let Some(t) = &f.target
            && !TARGETS.contains(&t.as_str())
        {
            return Err(FormError::BadTarget {
                field: f.name.clone(),
                target: t.clone(),
            });
        }
    }
    Ok(fields)
}

/// The standard monthly progress form (月度进度填报) every new store starts with.
pub fn standard_progress_fields() -> Vec<FormField> {
    let field = |name: &str, label: &str, kind| FormField {
        name: name.into(),
        label: label.into(),
        kind,
        unit: None,
        required: false,
        min: None,
        max: None,
        choices: Vec::new(),
        max_len: None,
        target: None,
    };
    vec![
        FormField {
            choices: gengxin_model::vocab::PROJECT_STAGES
                .iter()
                .map(|c| c.code.to_owned())
                .collect(),
            required: true,
            target: Some("stage".into()),
            ..field("stage", "当前阶段", FieldKind::Choice)
        },
        FormField {
            unit: Some("%".into()),
            required: true,
            min: Some(0.0),
            max: Some(100.0),
            target: Some("progress_pct".into()),
            ..field("progress_pct", "总体进度", FieldKind::Number)
        },
        FormField {
            unit: Some("万元".into()),
            min: Some(0.0),
            target: Some("investment_done_wan".into()),
            ..field("investment_done_wan", "累计完成投资", FieldKind::Number)
        },
        FormField {
            max_len: Some(500),
            ..field("note", "本期进展说明", FieldKind::Text)
        },
        field("photo", "现场照片", FieldKind::Attachment),
    ]
}

/// One field's problem, for the per-field (and per-row) validation report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Checks filled values against a form. `complete` (a submission, not a draft) also requires
/// the required fields. Returns the values normalised (numbers as numbers, unknown keys refused).
pub fn validate(
    fields: &[FormField],
    values: &serde_json::Map<String, serde_json::Value>,
    complete: bool,
) -> Result<serde_json::Map<String, serde_json::Value>, Vec<FieldError>> {
    use serde_json::Value as J;
    let mut errors = Vec::new();
    let mut out = serde_json::Map::new();
    let err = |field: &str, message: String| FieldError {
        field: field.to_owned(),
        message,
    };
    for k in values.keys() {
        if !fields.iter().any(|f| &f.name == k) {
            errors.push(err(k, "不是本表单的字段 (not a field of this form)".into()));
        }
    }
    for f in fields {
        let v = values
            .get(&f.name)
            .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()));
        let Some(v) = v else {
            if complete && f.required {
                errors.push(err(&f.name, format!("「{}」必填 (required)", f.label)));
            }
            continue;
        };
        // Spreadsheets and forms send numbers as text: accept both.
        let number = || match v {
            J::Number(n) => n.as_f64(),
            J::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
            _ => None,
        };
        let normalised = match f.kind {
            FieldKind::Number | FieldKind::Integer => match number() {
                None => Err(format!("「{}」应为数字 (a number)", f.label)),
                Some(x) if f.kind == FieldKind::Integer && x.fract() != 0.0 => {
                    Err(format!("「{}」应为整数 (an integer)", f.label))
                }
                Some(x) if f.min.is_some_and(|m| x < m) || f.max.is_some_and(|m| x > m) => {
                    Err(format!(
                        "「{}」应在 {} 到 {} 之间 (out of range)",
                        f.label,
                        f.min.map_or("-∞".into(), |m| m.to_string()),
                        f.max.map_or("∞".into(), |m| m.to_string())
                    ))
                }
                Some(x) if f.kind == FieldKind::Integer => Ok(J::from(x as i64)),
                Some(x) => Ok(J::from(x)),
            },
            FieldKind::Text | FieldKind::Attachment => match v {
                J::String(s) if f.max_len.is_some_and(|m| s.chars().count() > m) => Err(format!(
                    "「{}」最多 {} 字 (too long)",
                    f.label,
                    f.max_len.unwrap_or(0)
                )),
                J::String(s) if s.contains('\0') => Err(format!("「{}」含非法字符", f.label)),
                J::String(s) => Ok(J::from(s.trim())),
                J::Number(n) if f.kind == FieldKind::Text => Ok(J::from(n.to_string())),
                _ => Err(format!("「{}」应为文本 (text)", f.label)),
            },
            FieldKind::Date => match v.as_str().map(str::trim) {
                Some(s) if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => Ok(J::from(s)),
                _ => Err(format!("「{}」应为日期 YYYY-MM-DD (a date)", f.label)),
            },
            FieldKind::Choice => match v.as_str().map(str::trim) {
                Some(s) if f.choices.iter().any(|c| c == s) => Ok(J::from(s)),
                _ => Err(format!(
                    "「{}」应为 {} 之一 (one of the choices)",
                    f.label,
                    f.choices.join(" / ")
                )),
            },
            FieldKind::Bool => match v {
                J::Bool(b) => Ok(J::from(*b)),
                J::String(s) if matches!(s.trim(), "是" | "true" | "1") => Ok(J::from(true)),
                J::String(s) if matches!(s.trim(), "否" | "false" | "0") => Ok(J::from(false)),
                _ => Err(format!("「{}」应为 是/否 (yes or no)", f.label)),
            },
        };
        match normalised {
            Ok(n) => {
                out.insert(f.name.clone(), n);
            }
            Err(m) => errors.push(err(&f.name, m)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Who reviews a form's submissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// District review, then city approval.
    DistrictCity,
    /// City approval only.
    City,
    /// District review only.
    District,
}

impl Chain {
    pub fn from_code(c: &str) -> Option<Chain> {
        match c {
            "district_city" => Some(Chain::DistrictCity),
            "city" => Some(Chain::City),
            "district" => Some(Chain::District),
            _ => None,
        }
    }
}

/// The reviewer's level, from their role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    District,
    City,
}

/// What a reviewer decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// Why a review is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("the submission is {0}, not awaiting review")]
    NotAwaiting(String),
    #[error("this step needs a {0} reviewer")]
    WrongLevel(&'static str),
}

/// The state after a review; `Ok("approved")` means: merge now.
pub fn transition(
    chain: Chain,
    state: &str,
    level: Level,
    decision: Decision,
) -> Result<&'static str, ReviewError> {
    let needed = match (chain, state) {
        (Chain::DistrictCity | Chain::District, "submitted") => Level::District,
        (Chain::City, "submitted") | (Chain::DistrictCity, "district_approved") => Level::City,
        _ => return Err(ReviewError::NotAwaiting(state.to_owned())),
    };
    if needed != level {
        return Err(ReviewError::WrongLevel(match needed {
            Level::District => "district",
            Level::City => "city",
        }));
    }
    Ok(match (decision, chain, needed) {
        (Decision::Reject, _, _) => "rejected",
        (Decision::Approve, Chain::DistrictCity, Level::District) => "district_approved",
        (Decision::Approve, _, _) => "approved",
    })
}

/// A reporting period: a month (`2026-11`) or a quarter (`2026-Q4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    pub year: i32,
    /// 1–12 for months, 1–4 for quarters.
    pub index: u32,
    pub quarterly: bool,
}

impl Period {
    /// The period a date falls in.
    pub fn of(date: NaiveDate, quarterly: bool) -> Period {
        Period {
            year: date.year(),
            index: if quarterly {
                (date.month() - 1) / 3 + 1
            } else {
                date.month()
            },
            quarterly,
        }
    }

    pub fn parse(s: &str) -> Option<Period> {
        let (y, rest) = s.split_once('-')?;
        let year: i32 = y.parse().ok().filter(|y| (1900..=2200).contains(y))?;
        if let Some(q) = rest.strip_prefix('Q') {
            let index: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
            return Some(Period {
                year,
                index,
                quarterly: true,
            });
        }
        let index: u32 = rest.parse().ok().filter(|m| (1..=12).contains(m))?;
        (rest.len() == 2).then_some(Period {
            year,
            index,
            quarterly: false,
        })
    }

    fn months(self) -> u32 {
        if self.quarterly { 3 } else { 1 }
    }

    /// The first day of the period.
    pub fn start(self) -> NaiveDate {
        let month = if self.quarterly {
            (self.index - 1) * 3 + 1
        } else {
            self.index
        };
        NaiveDate::from_ymd_opt(self.year, month, 1).expect("valid month")
    }

    /// The next period.
    pub fn next(self) -> Period {
        let per_year = 12 / self.months();
        if self.index == per_year {
            Period {
                year: self.year + 1,
                index: 1,
                ..self
            }
        } else {
            Period {
                index: self.index + 1,
                ..self
            }
        }
    }

    /// The last day of the period.
    pub fn end(self) -> NaiveDate {
        self.next()
            .start()
            .pred_opt()
            .expect("not the first day ever")
    }

    /// The deadline: `days` days after the period's end (the report covers the period).
    pub fn deadline(self, days: u32) -> NaiveDate {
        self.end() + chrono::Days::new(days as u64)
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.quarterly {
            write!(f, "{}-Q{}", self.year, self.index)
        } else {
            write!(f, "{}-{:02}", self.year, self.index)
        }
    }
}

/// One field an approved submission changes: the project's value before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    pub label: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Real(r) => (*r).into(),
        Value::Text(t) => t.as_str().into(),
    }
}

fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Real(n.as_f64().unwrap_or(0.0))),
        serde_json::Value::String(s) => Value::Text(s.clone()),
        _ => Value::Null,
    }
}

/// The differences between a project and what a submission would write to it: the reviewer's
/// diff, and the fields [`merge`] changes.
pub fn diff(
    fields: &[FormField],
    values: &serde_json::Map<String, serde_json::Value>,
    project: &Feature,
) -> Vec<Change> {
    fields
        .iter()
        .filter_map(|f| {
            let target = f.target.as_ref()?;
            let after = values.get(&f.name)?.clone();
            let before = value_json(project.get(target));
            let same = match (&before, &after) {
                (serde_json::Value::Number(a), serde_json::Value::Number(b)) => {
                    a.as_f64() == b.as_f64()
                }
                (a, b) => a == b,
            };
            (!same).then(|| Change {
                field: target.clone(),
                label: f.label.clone(),
                before,
                after,
            })
        })
        .collect()
}

/// The project as an approved submission leaves it (version unchanged: the store bumps it).
pub fn merge(
    fields: &[FormField],
    values: &serde_json::Map<String, serde_json::Value>,
    project: &Feature,
) -> Feature {
    let mut p = project.clone();
    for c in diff(fields, values, project) {
        let mut v = json_value(&c.after);
        // Reals stay reals in real fields (an integer 40 is 40.0 for progress_pct).
        if let (Value::Int(i), Value::Real(_) | Value::Null) = (&v, project.get(&c.field))
            && c.field != "stage"
        {
            v = Value::Real(*i as f64);
        }
        p.properties.insert(c.field, v);
    }
    p
}

/// A `report_forms` row.
#[allow(clippy::too_many_arguments)]
pub fn form_row(
    code: &str,
    version: i64,
    name: &str,
    renewal_kind: Option<&str>,
    fields: &[FormField],
    chain: &str,
    cycle: &str,
    deadline_day: u32,
    remind_days: u32,
    at: DateTime<Utc>,
) -> Feature {
    Feature::new(format!("{code}@{version}"), "manual", at)
        .set("form_code", code)
        .set("form_version", version)
        .set("name", name)
        .set("renewal_kind", renewal_kind.map(str::to_owned))
        .set(
            "fields",
            serde_json::to_string(fields).expect("fields serialise"),
        )
        .set("review_chain", chain)
        .set("cycle", cycle)
        .set("deadline_day", deadline_day as i64)
        .set("remind_days", remind_days as i64)
        .set("active", true)
}

/// A job row of the reporting queue (`job:{kind}:{form}:{period}`: at most one per kind, form
/// and period).
pub fn job_row(kind: &str, form_code: &str, period: &str, run_at: DateTime<Utc>) -> Feature {
    Feature::new(
        format!("job:{kind}:{form_code}:{period}"),
        "gengxin",
        run_at,
    )
    .set("kind", kind)
    .set("run_at", gengxin_model::timestamp(&run_at))
    .set("status", "pending")
    .set("attempts", 0_i64)
    .set(
        "payload",
        serde_json::json!({"form_code": form_code, "period": period}).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn values_are_checked_field_by_field() {
        let f = standard_progress_fields();
        let ok = validate(
            &f,
            &values(json!({"stage": "construction", "progress_pct": "45.5", "note": " 主体封顶 "})),
            true,
        )
        .unwrap();
        assert_eq!(ok["progress_pct"], json!(45.5));
        assert_eq!(ok["note"], json!("主体封顶"));
        let errs = validate(
            &f,
            &values(json!({"stage": "flying", "progress_pct": 140, "colour": "red"})),
            true,
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["colour", "stage", "progress_pct"]);
        // A draft may be incomplete, a submission may not.
        assert!(validate(&f, &values(json!({"note": "草稿"})), false).is_ok());
        let errs = validate(&f, &values(json!({"note": "草稿"})), true).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert!(errs[0].message.contains("必填"));
    }

    #[test]
    fn form_definitions_are_checked() {
        assert!(matches!(parse_fields("[]"), Err(FormError::Empty)));
        assert!(matches!(
            parse_fields(r#"[{"name":"a","label":"A","kind":"choice"}]"#),
            Err(FormError::NoChoices(_))
        ));
        assert!(matches!(
            parse_fields(r#"[{"name":"a","label":"A","kind":"number","target":"name"}]"#),
            Err(FormError::BadTarget { .. })
        ));
        let std = serde_json::to_string(&standard_progress_fields()).unwrap();
        assert_eq!(parse_fields(&std).unwrap(), standard_progress_fields());
    }

    #[test]
    fn the_chain_moves_by_level_and_refuses_the_wrong_reviewer() {
        use Decision::*;
        let dc = Chain::DistrictCity;
        assert_eq!(
            transition(dc, "submitted", Level::District, Approve),
            Ok("district_approved")
        );
        assert_eq!(
            transition(dc, "district_approved", Level::City, Approve),
            Ok("approved")
        );
        assert_eq!(
            transition(dc, "submitted", Level::City, Approve),
            Err(ReviewError::WrongLevel("district"))
        );
        assert_eq!(
            transition(dc, "submitted", Level::District, Reject),
            Ok("rejected")
        );
        assert!(transition(dc, "approved", Level::City, Approve).is_err());
        assert_eq!(
            transition(Chain::City, "submitted", Level::City, Approve),
            Ok("approved")
        );
        assert_eq!(
            transition(Chain::District, "submitted", Level::District, Approve),
            Ok("approved")
        );
    }

    #[test]
    fn periods_deadlines_and_their_names() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let m = Period::of(d, false);
        assert_eq!(m.to_string(), "2026-11");
        assert_eq!(m.end(), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(m.deadline(5), NaiveDate::from_ymd_opt(2026, 12, 5).unwrap());
        let q = Period::of(d, true);
        assert_eq!(q.to_string(), "2026-Q4");
        assert_eq!(q.next().to_string(), "2027-Q1");
        assert_eq!(q.end(), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        assert_eq!(Period::parse("2026-Q4"), Some(q));
        assert_eq!(Period::parse("2026-11"), Some(m));
        assert_eq!(Period::parse("2026-13"), None);
        assert_eq!(Period::parse("2026-1"), None);
        assert_eq!(
            Period::parse("2026-02").unwrap().end(),
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
        );
    }

    #[test]
    fn merge_writes_only_targeted_changed_fields() {
        let f = standard_progress_fields();
        let p = Feature::new("prj", "x", chrono::Utc::now())
            .set("stage", "construction")
            .set("progress_pct", 40.0)
            .set("name", "项目");
        let v = values(json!({"stage": "construction", "progress_pct": 55, "note": "x"}));
        let d = diff(&f, &v, &p);
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].before.clone(), d[0].after.clone()),
            (json!(40.0), json!(55))
        );
        let merged = merge(&f, &v, &p);
        assert_eq!(merged.get("progress_pct"), &Value::Real(55.0));
        assert_eq!(merged.get("name"), p.get("name"));
    }
}
