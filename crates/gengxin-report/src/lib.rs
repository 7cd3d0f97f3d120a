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
    /// Plausibility ([`check`]): a running total (累计), which may not fall below the last
    /// approved value without a note.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cumulative: bool,
    /// Plausibility: the largest change from the last approved value without a note (e.g. 30
    /// points of progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_step: Option<f64>,
    /// Plausibility of a date: not before the date of this other field of the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// Plausibility of a date: one that has happened, not after the day it is reported.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_future: bool,
}

/// The project fields a form may write (the rest of a project is not reported).
pub const TARGETS: &[&str] = &[
    "stage",
    "progress_pct",
    "investment_done_wan",
    "start_date",
    "planned_end_date",
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
    #[error(
        "field {0:?}: not_before names a date field of the form, not_future is for dates, cumulative and max_step for numbers"
    )]
    BadRule(String),
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
        let number = matches!(f.kind, FieldKind::Number | FieldKind::Integer);
        let date_of = |n: &String| {
            fields
                .iter()
                .any(|o| &o.name == n && o.kind == FieldKind::Date && o.name != f.name)
        };
        if ((f.cumulative || f.max_step.is_some()) && !number)
            || f.max_step.is_some_and(|m| m.is_nan() || m < 0.0)
            || ((f.not_future || f.not_before.is_some()) && f.kind != FieldKind::Date)
            || f.not_before.as_ref().is_some_and(|n| !date_of(n))
        {
            return Err(FormError::BadRule(f.name.clone()));
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
        cumulative: false,
        max_step: None,
        not_before: None,
        not_future: false,
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
            max_step: Some(30.0),
            ..field("progress_pct", "总体进度", FieldKind::Number)
        },
        FormField {
            unit: Some("万元".into()),
            min: Some(0.0),
            target: Some("investment_done_wan".into()),
            cumulative: true,
            ..field("investment_done_wan", "累计完成投资", FieldKind::Number)
        },
        FormField {
            target: Some("start_date".into()),
            ..field("start_date", "开工日期", FieldKind::Date)
        },
        FormField {
            target: Some("planned_end_date".into()),
            not_before: Some("start_date".into()),
            ..field("planned_end_date", "计划完成日期", FieldKind::Date)
        },
        FormField {
            target: Some("actual_end_date".into()),
            not_before: Some("start_date".into()),
            not_future: true,
            ..field("actual_end_date", "实际完成日期", FieldKind::Date)
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

/// How serious a plausibility finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Blocks the submission (dates out of order, a date in the future).
    Error,
    /// Needs the reporter's note to submit, and is flagged to the reviewers.
    Warning,
}

/// A plausibility finding on one field, against the last approved values ([`check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub field: String,
    /// `falls` (a cumulative value below the last approved one), `jump` (a change above
    /// `max_step`), `order` (a date before `not_before`'s), `future` (a date after today).
    pub rule: String,
    pub severity: Severity,
    /// What is wrong, in Chinese.
    pub message: String,
    /// The value compared with: the last approved one (`falls`, `jump`), the other date
    /// (`order`), today (`future`).
    pub before: serde_json::Value,
    /// The value reported.
    pub after: serde_json::Value,
    /// `jump`: the largest change allowed without a note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// `order`: the other date field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
    /// The reporter's note explaining a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Finding {
    /// A warning without its note, or an error: the submission may not go on.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Error || self.note.is_none()
    }
}

/// The last approved values a new report starts from: each field that writes a project field
/// takes the project's value (what the last approval merged), the others the last approved
/// submission's. Texts and attachments are per period and not carried over.
pub fn baseline(
    fields: &[FormField],
    project: &Feature,
    last_approved: Option<&serde_json::Map<String, serde_json::Value>>,
) -> serde_json::Map<String, serde_json::Value> {
    fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::Text | FieldKind::Attachment))
        .filter_map(|f| {
            let v = match &f.target {
                Some(t) => value_json(project.get(t)),
                None => last_approved?.get(&f.name)?.clone(),
            };
            (!v.is_null()).then(|| (f.name.clone(), v))
        })
        .collect()
}

fn number_text(x: f64) -> String {
    // 194.1, not 194.09999999999999
    let r = (x * 1e6).round() / 1e6;
    r.to_string()
}

/// Checks validated values (see [`validate`]) for plausibility against the last approved ones
/// (`baseline`, see [`baseline`]) by the form's rules: a cumulative value may not fall, a
/// number may not change by more than `max_step`, a date may not precede its `not_before`
/// field's nor (`not_future`) lie after `today`. `notes` are the reporter's explanations by
/// field; a warning with a note no longer blocks.
pub fn check(
    fields: &[FormField],
    values: &serde_json::Map<String, serde_json::Value>,
    baseline: &serde_json::Map<String, serde_json::Value>,
    notes: &serde_json::Map<String, serde_json::Value>,
    today: NaiveDate,
) -> Vec<Finding> {
    use serde_json::Value as J;
    let date = |v: Option<&J>| {
        v.and_then(J::as_str)
            .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
    };
    let mut out = Vec::new();
    for f in fields {
        let Some(after) = values.get(&f.name).filter(|v| !v.is_null()) else {
            continue;
        };
        let note = notes
            .get(&f.name)
            .and_then(J::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(500).collect::<String>());
        let finding = |rule: &str, severity, message: String, before: J| Finding {
            field: f.name.clone(),
            rule: rule.into(),
            severity,
            message,
            before,
            after: after.clone(),
            limit: None,
            other: None,
            note: (severity == Severity::Warning)
                .then(|| note.clone())
                .flatten(),
        };
        let unit = f
            .unit
            .as_deref()
            .map(|u| format!(" {u}"))
            .unwrap_or_default();
        if let (Some(a), Some(b)) = (after.as_f64(), baseline.get(&f.name).and_then(J::as_f64)) {
            if f.cumulative && a < b {
                out.push(finding(
                    "falls",
                    Severity::Warning,
                    format!(
                        "「{}」是累计值，比上次审核通过的 {}{unit} 减少到 {}{unit}，请核对或填写说明",
                        f.label,
                        number_text(b),
                        number_text(a)
                    ),
                    J::from(b),
                ));
            }
            if let Some(m) = f.max_step
                && (a - b).abs() > m + 1e-9
            {
                out.push(Finding {
                    limit: Some(m),
                    ..finding(
                        "jump",
                        Severity::Warning,
                        format!(
                            "「{}」从上次审核通过的 {}{unit} 变为 {}{unit}，变化超过 {}{unit}，请填写说明",
                            f.label,
                            number_text(b),
                            number_text(a),
                            number_text(m)
                        ),
                        J::from(b),
                    )
                });
            }
        }
        if f.kind == FieldKind::Date
            && let Some(d) = date(Some(after))
        {
            if let Some(other) = &f.not_before
                && let Some(o) = fields.iter().find(|o| &o.name == other)
                && let Some(od) = date(values.get(other).or_else(|| baseline.get(other)))
                && d < od
            {
                out.push(Finding {
                    other: Some(other.clone()),
                    ..finding(
                        "order",
                        Severity::Error,
                        format!("「{}」{d} 早于「{}」{od}", f.label, o.label),
                        J::from(od.to_string()),
                    )
                });
            }
            if f.not_future && d > today {
                out.push(finding(
                    "future",
                    Severity::Error,
                    format!("「{}」{d} 晚于今天 {today}，不能是将来的日期", f.label),
                    J::from(today.to_string()),
                ));
            }
        }
    }
    out
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
    use serde_json::{Map, Value as Json, json};

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

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_falling_cumulative_value_is_a_warning_a_note_explains() {
        let f = standard_progress_fields();
        let base = values(json!({"investment_done_wan": 194.1, "progress_pct": 40.0}));
        let v = values(json!({"investment_done_wan": 100.0, "progress_pct": 45.0}));
        let none = Map::new();
        let found = check(&f, &v, &base, &none, day("2026-12-07"));
        assert_eq!(found.len(), 1);
        let w = &found[0];
        assert_eq!(
            (w.field.as_str(), w.rule.as_str()),
            ("investment_done_wan", "falls")
        );
        assert_eq!(w.severity, Severity::Warning);
        assert_eq!(
            (w.before.clone(), w.after.clone()),
            (json!(194.1), json!(100.0))
        );
        assert!(w.message.contains("194.1 万元"), "{}", w.message);
        assert!(w.blocks());
        // The same value, or a rise, is plausible; a note lets the fall through.
        let same = values(json!({"investment_done_wan": 194.1}));
        assert!(check(&f, &same, &base, &none, day("2026-12-07")).is_empty());
        let notes = values(json!({"investment_done_wan": "上期多报，已更正"}));
        let found = check(&f, &v, &base, &notes, day("2026-12-07"));
        assert_eq!(found[0].note.as_deref(), Some("上期多报，已更正"));
        assert!(!found[0].blocks());
        // No baseline (a first report): nothing to compare with.
        assert!(check(&f, &v, &Map::new(), &none, day("2026-12-07")).is_empty());
    }

    #[test]
    fn progress_may_jump_by_max_step_and_no_more() {
        let f = standard_progress_fields();
        let base = values(json!({"progress_pct": 40.0}));
        let t = day("2026-12-07");
        let at = |p: f64| {
            check(
                &f,
                &values(json!({"progress_pct": p})),
                &base,
                &Map::new(),
                t,
            )
        };
        assert!(at(70.0).is_empty(), "40 → 70 is 30 points: allowed");
        let j = at(70.5);
        assert_eq!((j[0].rule.as_str(), j[0].limit), ("jump", Some(30.0)));
        assert!(j[0].message.contains("超过 30 %"), "{}", j[0].message);
        assert_eq!(at(5.0)[0].rule, "jump", "a fall of 35 points as well");
    }

    #[test]
    fn dates_are_ordered_and_actual_dates_not_in_the_future() {
        let f = standard_progress_fields();
        let t = day("2026-12-07");
        let base = values(json!({"start_date": "2025-03-01", "planned_end_date": "2027-06-30"}));
        let run = |v: serde_json::Value| check(&f, &values(v), &base, &Map::new(), t);
        // The planned end before the start, reported together.
        let e = run(json!({"start_date": "2026-01-01", "planned_end_date": "2025-12-31"}));
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].field.as_str(), e[0].rule.as_str()),
            ("planned_end_date", "order")
        );
        assert_eq!(e[0].severity, Severity::Error);
        assert_eq!(e[0].before, json!("2026-01-01"));
        // The start from the baseline when not reported.
        let e = run(json!({"actual_end_date": "2025-02-01"}));
        assert_eq!(
            (e[0].rule.as_str(), e[0].other.as_deref()),
            ("order", Some("start_date"))
        );
        // Today is fine, tomorrow is not; a note does not let an error through.
        assert!(run(json!({"actual_end_date": "2026-12-07"})).is_empty());
        let e = check(
            &f,
            &values(json!({"actual_end_date": "2026-12-08"})),
            &base,
            &values(json!({"actual_end_date": "提前"})),
            t,
        );
        assert_eq!(e[0].rule, "future");
        assert!(e[0].blocks());
    }

    #[test]
    fn the_baseline_is_the_project_and_the_last_approved_values() {
        let mut f = standard_progress_fields();
        f.push(FormField {
            name: "workers".into(),
            label: "在场工人".into(),
            kind: FieldKind::Integer,
            ..f[1].clone()
        });
        f.last_mut().unwrap().target = None;
        let p = Feature::new("prj", "x", chrono::Utc::now())
            .set("stage", "construction")
            .set("progress_pct", 40.0)
            .set("start_date", "2025-03-01");
        let last = values(json!({"workers": 12, "note": "上月", "progress_pct": 35}));
        let b = baseline(&f, &p, Some(&last));
        assert_eq!(
            Json::Object(b),
            json!({"stage": "construction", "progress_pct": 40.0, "start_date": "2025-03-01", "workers": 12})
        );
    }

    #[test]
    fn rules_fit_the_field_kind() {
        let bad = [
            r#"[{"name":"a","label":"A","kind":"text","cumulative":true}]"#,
            r#"[{"name":"a","label":"A","kind":"number","not_future":true}]"#,
            r#"[{"name":"a","label":"A","kind":"date","not_before":"b"}]"#,
            r#"[{"name":"a","label":"A","kind":"number","max_step":-1}]"#,
        ];
        for b in bad {
            assert!(matches!(parse_fields(b), Err(FormError::BadRule(_))), "{b}");
        }
        assert!(parse_fields(
            r#"[{"name":"a","label":"A","kind":"date"},{"name":"b","label":"B","kind":"date","not_before":"a","not_future":true}]"#
        )
        .is_ok());
    }
}
