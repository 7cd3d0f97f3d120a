//! A project's state at a date, from its milestones and its progress-report history: the
//! project-progress query ("which projects lag behind plan", "where did things stand on D").
//!
//! - **Stage and progress at D**: the latest progress report dated on or before D (its stage,
//!   progress and investment); without one, the stage of the last milestone done by D and no
//!   progress figure. When D is today or later, the project's current values.
//! - **Planned stage at D**: the stage of the last milestone planned on or before D.
//! - **Lag**: milestones planned before D and not done by D are overdue; the lag in days is
//!   how long the oldest of them has been due.

use chrono::NaiveDate;
use gengxin_model::{Feature, Value};

/// One project at one date.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectStatus {
    pub id: String,
    pub as_of: NaiveDate,
    pub stage: String,
    pub progress_pct: Option<f64>,
    pub investment_done_wan: Option<f64>,
    /// The period (`YYYY-MM`) of the report the figures come from, if any.
    pub report_period: Option<String>,
    pub planned_stage: Option<String>,
    /// Milestones planned before the date and not done by it.
    pub overdue_milestones: usize,
    /// Days since the oldest overdue milestone was due; 0 when none is.
    pub lag_days: i64,
}

fn date(f: &Feature, field: &str) -> Option<NaiveDate> {
    match f.get(field) {
        Value::Text(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d").ok(),
        _ => None,
    }
}

fn text(f: &Feature, field: &str) -> Option<String> {
    f.get(field).as_str().map(str::to_owned)
}

/// The project's state at `as_of`, or `None` if it had not started by then. `milestones` and
/// `reports` are the project's own (any order); `today` decides whether the current values
/// apply.
pub fn status_at(
    project: &Feature,
    milestones: &[&Feature],
    reports: &[&Feature],
    as_of: NaiveDate,
    today: NaiveDate,
) -> Option<ProjectStatus> {
    if date(project, "start_date").is_some_and(|s| s > as_of) {
        return None;
    }
    let mut ms: Vec<&Feature> = milestones.to_vec();
    ms.sort_by_key(|m| m.get("seq").as_i64());
    let done_by = |m: &Feature| date(m, "actual_date").is_some_and(|d| d <= as_of);
    let planned_stage = ms
        .iter()
        .rev()
        .find(|m| date(m, "planned_date").is_some_and(|d| d <= as_of))
        .and_then(|m| text(m, "stage"));
    let overdue: Vec<NaiveDate> = ms
        .iter()
        .filter(|m| !done_by(m))
        .filter_map(|m| date(m, "planned_date"))
        .filter(|d| *d < as_of)
        .collect();
    let lag_days = overdue.iter().min().map_or(0, |d| (as_of - *d).num_days());
    let (stage, progress_pct, investment_done_wan, report_period) = if as_of >= today {
        (
            text(project, "stage").unwrap_or_default(),
            project.get("progress_pct").as_f64(),
            project.get("investment_done_wan").as_f64(),
            None,
        )
    } else {
        let last = reports
            .iter()
            .filter(|r| date(r, "report_date").is_some_and(|d| d <= as_of))
            .max_by_key(|r| (date(r, "report_date"), text(r, "period")));
        match last {
            Some(r) => (
                text(r, "stage").unwrap_or_default(),
                r.get("progress_pct").as_f64(),
                r.get("investment_done_wan").as_f64(),
                text(r, "period"),
            ),
            None => (
                ms.iter()
                    .rev()
                    .find(|m| done_by(m))
                    .and_then(|m| text(m, "stage"))
                    .or_else(|| ms.first().and_then(|m| text(m, "stage")))
                    .unwrap_or_default(),
                None,
                None,
                None,
            ),
        }
    };
    Some(ProjectStatus {
        id: project.id.clone(),
        as_of,
        stage,
        progress_pct,
        investment_done_wan,
        report_period,
        planned_stage,
        overdue_milestones: overdue.len(),
        lag_days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn project() -> Feature {
        Feature::new("p1", "test", Utc::now())
            .set("stage", "construction")
            .set("progress_pct", 60.0)
            .set("start_date", "2020-01-10")
    }

    fn milestone(seq: i64, stage: &str, planned: &str, actual: Option<&str>) -> Feature {
        Feature::new(format!("m{seq}"), "test", Utc::now())
            .set("seq", seq)
            .set("stage", stage)
            .set("planned_date", planned)
            .set("actual_date", actual)
    }

    fn report(period: &str, date: &str, stage: &str, pct: f64) -> Feature {
        Feature::new(format!("r{period}"), "test", Utc::now())
            .set("period", period)
            .set("report_date", date)
            .set("stage", stage)
            .set("progress_pct", pct)
    }

    #[test]
    fn past_dates_answer_from_the_history() {
        let p = project();
        let ms = [
            milestone(1, "reserve", "2020-01-10", Some("2020-01-10")),
            milestone(2, "preliminary", "2020-05-01", Some("2020-07-01")),
            milestone(3, "acquisition", "2021-01-01", None),
        ];
        let rs = [
            report("2020-05", "2020-06-03", "reserve", 4.0),
            report("2020-07", "2020-08-05", "preliminary", 7.5),
        ];
        let m: Vec<&Feature> = ms.iter().collect();
        let r: Vec<&Feature> = rs.iter().collect();
        let today = d("2026-11-01");

        assert!(status_at(&p, &m, &r, d("2019-12-31"), today).is_none());

        let june = status_at(&p, &m, &r, d("2020-06-10"), today).unwrap();
        assert_eq!(june.stage, "reserve");
        assert_eq!(june.progress_pct, Some(4.0));
        assert_eq!(june.report_period.as_deref(), Some("2020-05"));
        assert_eq!(june.planned_stage.as_deref(), Some("preliminary"));
        assert_eq!((june.overdue_milestones, june.lag_days), (1, 40));

        let aug = status_at(&p, &m, &r, d("2020-08-10"), today).unwrap();
        assert_eq!(
            (aug.stage.as_str(), aug.progress_pct),
            ("preliminary", Some(7.5))
        );
        assert_eq!(aug.lag_days, 0);

        let later = status_at(&p, &m, &r, d("2021-03-01"), today).unwrap();
        assert_eq!(later.lag_days, 59);

        let now = status_at(&p, &m, &r, today, today).unwrap();
        assert_eq!(
            (now.stage.as_str(), now.progress_pct),
            ("construction", Some(60.0))
        );
    }

    #[test]
    fn without_reports_the_stage_comes_from_milestones() {
        let p = project();
        let ms = [
            milestone(1, "reserve", "2020-01-10", Some("2020-01-10")),
            milestone(2, "preliminary", "2020-05-01", Some("2020-04-20")),
        ];
        let m: Vec<&Feature> = ms.iter().collect();
        let s = status_at(&p, &m, &[], d("2020-04-30"), d("2026-01-01")).unwrap();
        assert_eq!(s.stage, "preliminary");
        assert_eq!(s.progress_pct, None);
        assert_eq!(s.lag_days, 0);
    }
}
