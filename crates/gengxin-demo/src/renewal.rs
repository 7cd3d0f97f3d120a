//! Generated renewal projects with stages, milestones and monthly progress history, and the plan
//! layers around them. Wuhan's plan had 1,831 projects; the demo generates exactly that many.

use chrono::{Datelike, Months, NaiveDate};
use gengxin_model::{Feature, GENERATED};
use rand::Rng;

use crate::land::Object;
use crate::{Ctx, rng_for};

pub const PROJECTS: usize = 1831;

/// One renewal object with what projects need to know about it.
pub struct ObjectInfo<'a> {
    pub object: &'a Object,
    pub district: &'a str,
    pub district_name: &'a str,
    pub street_name: &'a str,
    pub area_m2: f64,
    pub floor_area_m2: f64,
}

const FULL: &[(&str, &str, u32, f64)] = &[
    // (stage, entry milestone, planned months in stage, progress % at entry)
    ("reserve", "纳入项目储备库", 4, 0.0),
    ("preliminary", "启动前期工作", 8, 5.0),
    ("acquisition", "发布征收决定", 14, 15.0),
    ("land_supply", "土地挂牌出让", 5, 40.0),
    ("construction", "开工建设", 30, 50.0),
    ("completed", "竣工验收", 0, 100.0),
];
const LIGHT: &[(&str, &str, u32, f64)] = &[
    ("reserve", "纳入项目储备库", 2, 0.0),
    ("preliminary", "改造方案批复", 3, 5.0),
    ("construction", "开工建设", 9, 15.0),
    ("completed", "竣工验收", 0, 100.0),
];

pub struct Projects {
    pub projects: Vec<Feature>,
    pub milestones: Vec<Feature>,
    pub reports: Vec<Feature>,
    /// (object id, project plan year, current stage) for the plan layers.
    pub status: Vec<(String, i32, &'static str)>,
    /// A generated project brief (项目简介.txt) for each urban-village project: metadata, bytes.
    pub attachments: Vec<(Feature, Vec<u8>)>,
}

fn add_days(d: NaiveDate, days: i64) -> NaiveDate {
    d + chrono::Duration::days(days)
}

fn add_months_f(d: NaiveDate, months: f64) -> NaiveDate {
    add_days(d, (months * 30.44).round() as i64)
}

pub fn generate(ctx: &Ctx, objects: &[ObjectInfo]) -> Projects {
    let mut rng = rng_for(ctx.seed, "projects");
    // One project per object, then further phases to the larger kinds until the plan's count.
    let mut phases: Vec<usize> = vec![1; objects.len()];
    let weight = |o: &ObjectInfo| match o.object.kind {
        "urban_village" => 6.0,
        "old_town" => 3.0,
        "old_factory" => 1.0,
        _ => 0.5,
    };
    let total_w: f64 = objects.iter().map(weight).sum();
    let mut n = objects.len();
    while n < PROJECTS && !objects.is_empty() {
        let mut x = rng.gen_range(0.0..total_w);
        let i = objects.iter().position(|o| {
            x -= weight(o);
            x < 0.0
        });
        let i = i.unwrap_or(objects.len() - 1);
        if phases[i] < 4 {
            phases[i] += 1;
            n += 1;
        }
    }
    let as_of = ctx.as_of;
    let mut out = Projects {
        projects: vec![],
        milestones: vec![],
        reports: vec![],
        status: vec![],
        attachments: vec![],
    };
    let mut seq = 0;
    for (o, &count) in objects.iter().zip(&phases) {
        for phase in 1..=count {
            seq += 1;
            let id = format!("prj-{seq:04}");
            let stages = if o.object.kind == "old_compound" {
                LIGHT
            } else {
                FULL
            };
            let plan_year: i32 = rng.gen_range(2018..=2026);
            let start =
                NaiveDate::from_ymd_opt(plan_year, rng.gen_range(1..=12), rng.gen_range(1..=28))
                    .expect("valid date");
            let start = start.min(add_days(as_of, -30));
            let profile = rng.gen_range(0.0..1.0);
            let stall_at = (profile > 0.9).then(|| rng.gen_range(1..stages.len() - 1));
            let mut planned = vec![start];
            let mut actual = vec![Some(start)];
            for (k, &(_, _, months, _)) in stages.iter().enumerate().take(stages.len() - 1) {
                let m = months as f64 * rng.gen_range(0.8..1.25);
                planned.push(add_months_f(planned[k], m));
                let factor = if profile < 0.65 {
                    rng.gen_range(0.85..1.15)
                } else {
                    rng.gen_range(1.3..2.2)
                };
                // A stalled project never enters the stages after the one it stalls in.
                let next = actual[k]
                    .filter(|_| stall_at.is_none_or(|s| k < s))
                    .map(|a| add_months_f(a, m * factor));
                actual.push(next);
            }
            // Progress at a date: stage by entries, then the share of the stage elapsed.
            let progress = |d: NaiveDate| -> (usize, f64) {
                let k = (0..stages.len())
                    .rev()
                    .find(|&k| actual[k].is_some_and(|a| a <= d))
                    .unwrap_or(0);
                if k == stages.len() - 1 {
                    return (k, 100.0);
                }
                let entered = actual[k].expect("entered");
                let end = actual[k + 1]
                    .unwrap_or_else(|| add_months_f(entered, stages[k].2 as f64 * 3.0));
                let span = (end - entered).num_days().max(1) as f64;
                let frac = ((d - entered).num_days() as f64 / span).clamp(0.0, 0.95);
                let (lo, hi) = (stages[k].3, stages[k + 1].3);
                (k, ((lo + (hi - lo) * frac) * 10.0).round() / 10.0)
            };
            let (stage_now, pct_now) = progress(as_of);
            let stage = stages[stage_now].0;
            let per_m2 = match o.object.kind {
                "urban_village" => 0.8,
                "old_town" => 0.6,
                "old_factory" => 0.4,
                _ => 0.0,
            };
            let total = if per_m2 > 0.0 {
                o.area_m2 * per_m2 / count as f64
            } else {
                o.floor_area_m2 * 0.05
            };
            let total = (total * rng.gen_range(0.7..1.3)).max(100.0).round();
            let done =
                |pct: f64, r: f64| ((total * pct / 100.0 * r).min(total) * 10.0).round() / 10.0;
            let entity = match o.object.kind {
                "urban_village" if rng.gen_bool(0.5) => format!("{}股份经济合作社", o.object.name),
                "old_compound" => format!("{}办事处", o.street_name),
                _ => format!("{}城市更新投资有限公司", o.district_name),
            };
            let suffix = match o.object.kind {
                "urban_village" => "城中村改造",
                "old_town" => "旧城改造",
                "old_factory" => "旧厂改造",
                _ => "老旧小区改造",
            };
            let phase_name = if count > 1 {
                format!("（{}期）", crate::land::cn_num(phase))
            } else {
                String::new()
            };
            let completed = actual[stages.len() - 1].filter(|a| *a <= as_of);
            out.projects.push(
                ctx.feature(&id, GENERATED)
                    .set("code", format!("GX{plan_year}-{}-{seq:04}", o.district))
                    .set("name", format!("{}{suffix}项目{phase_name}", o.object.name))
                    .set("renewal_object_id", o.object.id.as_str())
                    .set("district_code", o.district)
                    .set("stage", stage)
                    .set("entity", entity.as_str())
                    .set("investment_total_wan", total)
                    .set(
                        "investment_done_wan",
                        done(pct_now, rng.gen_range(0.85..1.05)),
                    )
                    .set("progress_pct", pct_now)
                    .set("plan_year", plan_year as i64)
                    .set("start_date", start.to_string())
                    .set("planned_end_date", planned[stages.len() - 1].to_string())
                    .set("actual_end_date", completed.map(|d| d.to_string()))
                    .set(
                        "parcel_ids",
                        serde_json::to_string(&o.object.parcels).expect("strings serialise"),
                    ),
            );
            out.status.push((o.object.id.clone(), plan_year, stage));
            if o.object.kind == "urban_village" {
                let brief = format!(
                    "项目简介（演示数据，自动生成）\n项目：{}{suffix}项目{phase_name}\n更新对象：{}（{}，{}）\n用地面积：{:.1} 公顷\n改造主体：{entity}\n计划年度：{plan_year}\n当前阶段：{}\n总投资：{total} 万元\n",
                    o.object.name,
                    o.object.name,
                    o.district_name,
                    o.street_name,
                    o.area_m2 / 10_000.0,
                    crate::stage_zh(stage),
                );
                out.attachments.push((
                    ctx.feature(&format!("att-{id}-1"), GENERATED)
                        .set("owner_layer", "projects")
                        .set("owner_id", id.as_str())
                        .set("file_name", "项目简介.txt")
                        .set("media_type", "text/plain; charset=utf-8")
                        .set("description", "generated project brief"),
                    brief.into_bytes(),
                ));
            }
            for (k, &(st, name, _, _)) in stages.iter().enumerate() {
                let done_at = actual[k].filter(|a| *a <= as_of);
                let status = match done_at {
                    Some(_) => "done",
                    None if planned[k] < as_of => "overdue",
                    None => "pending",
                };
                out.milestones.push(
                    ctx.feature(&format!("ms-{seq:04}-{}", k + 1), GENERATED)
                        .set("project_id", id.as_str())
                        .set("seq", (k + 1) as i64)
                        .set("stage", st)
                        .set("name", name)
                        .set("planned_date", planned[k].to_string())
                        .set("actual_date", done_at.map(|d| d.to_string()))
                        .set("status", status),
                );
            }
            // Monthly reports, from the start month until completion, a stall, or the last month
            // whose report is due by the as-of date; a few months are missing.
            let stop = match stall_at {
                Some(s) => actual[s].map(|a| add_days(a, rng.gen_range(60..240))),
                None => completed,
            };
            let mut month =
                NaiveDate::from_ymd_opt(start.year(), start.month(), 1).expect("valid date");
            loop {
                let month_end = month.checked_add_months(Months::new(1)).expect("in range")
                    - chrono::Duration::days(1);
                let report_date = add_days(month_end, rng.gen_range(1..=8));
                if report_date > as_of || stop.is_some_and(|s| month > s) {
                    break;
                }
                if rng.gen_bool(0.97) {
                    let (k, pct) = progress(month_end);
                    let period = format!("{:04}-{:02}", month.year(), month.month());
                    out.reports.push(
                        ctx.feature(&format!("rpt-{seq:04}-{period}"), GENERATED)
                            .set("project_id", id.as_str())
                            .set("period", period)
                            .set("report_date", report_date.to_string())
                            .set("stage", stages[k].0)
                            .set("progress_pct", pct)
                            .set("investment_done_wan", done(pct, rng.gen_range(0.9..1.02)))
                            .set(
                                "note",
                                format!("{}阶段推进中", crate::stage_zh(stages[k].0)),
                            )
                            .set("reported_by", entity.as_str()),
                    );
                }
                month = month.checked_add_months(Months::new(1)).expect("in range");
            }
        }
    }
    out
}
