//! The "+1" reporting mechanism's use cases over the store: report forms as stored.

use gengxin_model::{Feature, Value};
use gengxin_report::{Chain, FormField, Period};

use crate::AppError;

/// A form version as stored in `report_forms`.
#[derive(Debug, Clone)]
pub struct Form {
    pub id: String,
    pub code: String,
    pub version: i64,
    pub name: String,
    pub renewal_kind: Option<String>,
    pub fields: Vec<FormField>,
    pub chain: Chain,
    pub quarterly: bool,
    pub deadline_day: u32,
    pub remind_days: u32,
    pub active: bool,
}

impl Form {
    pub fn of(f: &Feature) -> Result<Form, AppError> {
        let t = |k: &str| f.get(k).as_str().unwrap_or_default().to_owned();
        Ok(Form {
            id: f.id.clone(),
            code: t("form_code"),
            version: f.get("form_version").as_i64().unwrap_or(1),
            name: t("name"),
            renewal_kind: f.get("renewal_kind").as_str().map(str::to_owned),
            fields: gengxin_report::parse_fields(&t("fields")).map_err(AppError::internal)?,
            chain: Chain::from_code(&t("review_chain"))
                .ok_or_else(|| AppError::internal("unknown review chain"))?,
            quarterly: t("cycle") == "quarterly",
            deadline_day: f.get("deadline_day").as_i64().unwrap_or(5) as u32,
            remind_days: f.get("remind_days").as_i64().unwrap_or(3) as u32,
            active: f.get("active") != &Value::Bool(false),
        })
    }

    /// The period `raw` names, if it is one of this form's kind (a month or a quarter).
    pub fn period(&self, raw: &str) -> Result<Period, AppError> {
        Period::parse(raw)
            .filter(|p| p.quarterly == self.quarterly)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "period {raw:?} must be {} for form {}",
                    if self.quarterly {
                        "a quarter such as 2026-Q4"
                    } else {
                        "a month such as 2026-11"
                    },
                    self.id
                ))
            })
    }
}
