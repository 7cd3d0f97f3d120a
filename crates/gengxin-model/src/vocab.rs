//! Closed code lists of the domain. Each code is a stable English token stored in the data, with
//! its Simplified Chinese and English labels. Stored values outside a field's list are refused.
//!
//! Service radii and other numbers from the standards are *not* here: they belong in editable,
//! versioned rule tables (see `STANDARDS.md`); this module only names things.

/// One entry of a code list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

const fn c(code: &'static str, zh: &'static str, en: &'static str) -> Code {
    Code { code, zh, en }
}

/// Looks a code up in a list.
pub fn find(list: &'static [Code], code: &str) -> Option<&'static Code> {
    list.iter().find(|c| c.code == code)
}

/// Levels of the administrative tree: city (6-digit code ending 00), district (6 digits),
/// street/town (9 digits), community/village (12 digits).
pub const ADMIN_LEVELS: &[Code] = &[
    c("city", "市", "city"),
    c("district", "区", "district"),
    c("street", "街道/乡镇", "street / town"),
    c("community", "社区/村", "community / village"),
];

/// What kind of unit a row of the admin tree is, from its official name.
pub const ADMIN_KINDS: &[Code] = &[
    c("city", "市", "city"),
    c("district", "区", "district"),
    c("subdistrict", "街道", "subdistrict"),
    c("town", "镇", "town"),
    c("township", "乡", "township"),
    c("residents_committee", "社区", "residents' committee"),
    c("village", "村", "village"),
    c("other", "其他", "other"),
];

/// The four kinds of renewal object (城市更新对象).
pub const RENEWAL_KINDS: &[Code] = &[
    c("urban_village", "城中村", "urban village"),
    c("old_town", "旧城", "old town"),
    c("old_factory", "旧厂", "old factory"),
    c("old_compound", "老旧小区", "old residential compound"),
];

/// Stages of a renewal project, in order.
pub const PROJECT_STAGES: &[Code] = &[
    c("reserve", "项目储备", "reserve"),
    c("preliminary", "前期工作", "preliminary work"),
    c("acquisition", "征收拆迁", "acquisition and demolition"),
    c("land_supply", "土地供应", "land supply"),
    c("construction", "建设实施", "construction"),
    c("completed", "竣工验收", "completed"),
];

/// Land-use classes of 国土空间调查、规划、用途管制用地用海分类指南 (2023), the subset parcels use.
pub const LAND_USES: &[Code] = &[
    c("0701", "城镇住宅用地", "urban residential"),
    c("0703", "农村宅基地", "rural homestead"),
    c("0801", "机关团体用地", "government and organisations"),
    c("0803", "文化用地", "culture"),
    c("0804", "教育用地", "education"),
    c("0805", "体育用地", "sports"),
    c("0806", "医疗卫生用地", "health care"),
    c("0807", "社会福利用地", "social welfare"),
    c("0901", "商业用地", "commercial"),
    c("0902", "商务金融用地", "business and finance"),
    c("1001", "工业用地", "industrial"),
    c("1101", "物流仓储用地", "logistics and warehousing"),
    c("1207", "城镇道路用地", "urban road"),
    c("1401", "公园绿地", "park"),
    c("1402", "防护绿地", "protective green"),
    c("1403", "广场用地", "square"),
    c("1701", "河流水面", "river"),
    c("1703", "湖泊水面", "lake"),
    c("2301", "空闲地", "vacant land"),
];

/// Public facilities by GB 50180-2018 (附录 B/C) and 完整居住社区建设标准 categories. The tier
/// is the life circle that lists the facility: `15min`, `10min`, `5min`, `block` (居住街坊) or
/// `city` (above the residential area).
pub const FACILITY_CATEGORIES: &[Code] = &[
    c("middle_school", "初中", "middle school"),
    c("primary_school", "小学", "primary school"),
    c("kindergarten", "幼儿园", "kindergarten"),
    c("nursery", "托儿所", "nursery"),
    c(
        "community_health_center",
        "社区卫生服务中心",
        "community health centre",
    ),
    c(
        "community_health_station",
        "社区卫生服务站",
        "community health station",
    ),
    c("hospital", "综合医院", "general hospital"),
    c(
        "large_sports_ground",
        "大型多功能运动场地",
        "large sports ground",
    ),
    c(
        "medium_sports_ground",
        "中型多功能运动场地",
        "medium sports ground",
    ),
    c(
        "small_sports_ground",
        "小型多功能运动场地",
        "small sports ground",
    ),
    c(
        "outdoor_fitness",
        "室外综合健身场地",
        "outdoor fitness ground",
    ),
    c("food_market", "菜市场或生鲜超市", "food market"),
    c("culture_center", "文化活动中心", "culture centre"),
    c("culture_station", "文化活动站", "culture station"),
    c(
        "community_service_center",
        "社区服务中心",
        "community service centre",
    ),
    c(
        "community_service_station",
        "社区服务站",
        "community service station",
    ),
    c("elderly_day_care", "老年人日间照料中心", "elderly day care"),
    c("nursing_home", "养老院", "nursing home"),
    c("community_canteen", "社区食堂", "community canteen"),
    c("convenience_store", "便利店", "convenience store"),
    c("public_toilet", "公共厕所", "public toilet"),
    c(
        "waste_collection",
        "生活垃圾收集站",
        "waste collection station",
    ),
    c("police_station", "派出所", "police station"),
    c("bus_stop", "公交车站", "bus stop"),
    c("rail_station", "轨道交通站点", "rail station"),
    c("park", "公园", "park"),
];

/// The life-circle tier of each facility category (same order as [`FACILITY_CATEGORIES`]).
pub const FACILITY_TIERS: &[Code] = &[
    c("15min", "十五分钟生活圈", "15-minute life circle"),
    c("10min", "十分钟生活圈", "10-minute life circle"),
    c("5min", "五分钟生活圈", "5-minute life circle"),
    c("block", "居住街坊", "residential block"),
    c("city", "城市级", "city level"),
];

/// The tier code of a facility category, per GB 50180-2018 附录 B.
pub fn facility_tier(category: &str) -> Option<&'static str> {
    Some(match category {
        "middle_school"
        | "community_health_center"
        | "large_sports_ground"
        | "culture_center"
        | "community_service_center"
        | "nursing_home"
        | "police_station"
        | "rail_station" => "15min",
        "primary_school" | "medium_sports_ground" | "food_market" | "bus_stop" => "10min",
        "kindergarten"
        | "nursery"
        | "community_health_station"
        | "small_sports_ground"
        | "outdoor_fitness"
        | "culture_station"
        | "community_service_station"
        | "elderly_day_care"
        | "community_canteen"
        | "public_toilet"
        | "waste_collection" => "5min",
        "convenience_store" => "block",
        "hospital" | "park" => "city",
        _ => return None,
    })
}

pub const BUILDING_USES: &[Code] = &[
    c("residential", "住宅", "residential"),
    c("commercial", "商业", "commercial"),
    c("office", "办公", "office"),
    c("industrial", "工业", "industrial"),
    c("public", "公共服务", "public service"),
    c("warehouse", "仓储", "warehouse"),
    c("mixed", "混合", "mixed use"),
];

pub const BUILDING_STRUCTURES: &[Code] = &[
    c("brick_wood", "砖木结构", "brick and timber"),
    c("brick_concrete", "砖混结构", "brick and concrete"),
    c(
        "reinforced_concrete",
        "钢筋混凝土结构",
        "reinforced concrete",
    ),
    c("steel", "钢结构", "steel"),
];

pub const ROAD_CLASSES: &[Code] = &[
    c("expressway", "快速路", "expressway"),
    c("arterial", "主干路", "arterial road"),
    c("secondary", "次干路", "secondary road"),
    c("branch", "支路", "branch road"),
    c("walkway", "步行道路", "walkway (footway, path, steps)"),
];

/// Plan layers for multi-plan fusion (多规合一).
pub const PLAN_KINDS: &[Code] = &[
    c(
        "control_plan",
        "控制性详细规划",
        "regulatory (control) plan",
    ),
    c("annual_renewal_plan", "年度更新计划", "annual renewal plan"),
    c("land_supply_plan", "土地供应计划", "land supply plan"),
    c(
        "ecological_red_line",
        "生态保护红线",
        "ecological protection red line",
    ),
];

pub const IMPORT_STATES: &[Code] = &[
    c("applied", "已导入", "applied"),
    c("undone", "已撤销", "undone"),
];

pub const MILESTONE_STATUSES: &[Code] = &[
    c("pending", "未开始", "pending"),
    c("done", "已完成", "done"),
    c("overdue", "已逾期", "overdue"),
];

pub const EPIDEMIC_CASE_KINDS: &[Code] = &[
    c("confirmed", "确诊", "confirmed"),
    c("suspected", "疑似", "suspected"),
    c("close_contact", "密切接触者", "close contact"),
];

pub const EPIDEMIC_CASE_STATUSES: &[Code] = &[
    c("isolated", "隔离中", "isolated"),
    c("hospitalised", "住院", "hospitalised"),
    c("recovered", "治愈", "recovered"),
    c("released", "解除", "released"),
];

/// Special populations (personal data; see `SECURITY.md`).
pub const SPECIAL_POPULATION_KINDS: &[Code] = &[
    c("pregnant", "孕产妇", "pregnant or postpartum"),
    c("chronic", "慢病患者", "chronic patient"),
    c("elderly_alone", "孤寡老人", "elderly living alone"),
    c("infant", "婴幼儿", "infant"),
    c("disabled", "残疾人", "disabled"),
];

pub const SEXES: &[Code] = &[c("female", "女", "female"), c("male", "男", "male")];

/// Who reads a custom layer made by an import. A definition without one (made before access
/// classes) reads as `staff`.
pub const CUSTOM_ACCESS: &[Code] = &[
    c("public", "公开", "public"),
    c("staff", "所有登录用户", "signed-in users"),
    c("organisation", "导入单位", "the importing organisation"),
];

pub const DELIVERY_STATUSES: &[Code] = &[
    c("requested", "已申请", "requested"),
    c("dispatched", "配送中", "dispatched"),
    c("delivered", "已送达", "delivered"),
];

/// Resident problem-report case states, GB/T 30428 (受理 → … → 结案).
pub const REPORT_STATUSES: &[Code] = &[
    c("received", "受理", "received"),
    c("filed", "立案", "filed"),
    c("dispatched", "派遣", "dispatched"),
    c("handling", "处置", "handling"),
    c("feedback", "反馈", "feedback"),
    c("verified", "核查", "verified"),
    c("closed", "结案", "closed"),
];

/// Event classes of GB/T 30428 for resident reports.
pub const REPORT_CATEGORIES: &[Code] = &[
    c("city_appearance", "市容环境", "city appearance"),
    c("advertising", "宣传广告", "advertising"),
    c("construction", "施工管理", "construction management"),
    c("emergency", "突发事件", "emergency"),
    c("street_order", "街面秩序", "street order"),
    c("other", "其他", "other"),
];

/// Whether GB 50180-2018 requires a facility (▲ 应配置) or recommends it (△ 宜配置).
pub const RULE_OBLIGATIONS: &[Code] = &[
    c("required", "▲ 应配置", "required (▲)"),
    c("optional", "△ 宜配置", "optional (△)"),
];

/// The languages of a saved query's filter (OGC CQL2 encodings).
pub const FILTER_LANGS: &[Code] = &[
    c("cql2-text", "CQL2 文本", "CQL2 text"),
    c("cql2-json", "CQL2 JSON", "CQL2 JSON"),
];

/// The roles of `DESIGN.md` (the public has no account and no role), and the security and
/// audit administrators of 三权分立 (the city administrator is the system administrator).
pub const ROLES: &[Code] = &[
    c("city_admin", "市级管理员", "city administrator"),
    c("city_leader", "市级领导", "city leader"),
    c("district", "区级用户", "district user"),
    c("entity", "改造主体", "implementing entity"),
    c("community_worker", "社区工作者", "community worker"),
    c("security_admin", "安全管理员", "security administrator"),
    c("audit_admin", "审计管理员", "audit administrator"),
];

/// Kinds of organisation a user belongs to.
pub const ORGANISATION_KINDS: &[Code] = &[
    c("city_department", "市直部门", "city department"),
    c(
        "district_government",
        "区政府/区主管部门",
        "district government",
    ),
    c("implementing_entity", "改造主体", "implementing entity"),
    c("community", "社区/村", "community / village"),
];

/// What an audit record records.
pub const AUDIT_ACTIONS: &[Code] = &[
    c("login", "登录", "login"),
    c("logout", "退出", "logout"),
    c("read_personal", "查阅个人信息", "personal data read"),
    c("write", "写入", "write"),
    c("submit", "提交填报", "submission"),
    c("review", "审核", "review"),
    c("account", "账号管理", "account change"),
    c("export", "导出", "export"),
    c("access", "访问受保护图层", "request on a guarded layer"),
];

/// How an audited action ended.
pub const AUDIT_OUTCOMES: &[Code] = &[
    c("ok", "成功", "success"),
    c("failed", "失败", "failure"),
    c("denied", "拒绝", "denied"),
    c("not_found", "未找到", "not found"),
];

/// Who reviews a form's submissions before they are merged.
pub const REVIEW_CHAINS: &[Code] = &[
    c(
        "district_city",
        "区级审核 → 市级审批",
        "district review, then city approval",
    ),
    c("city", "市级审批", "city approval only"),
    c("district", "区级审核", "district review only"),
];

/// How often a form is reported.
pub const REPORT_CYCLES: &[Code] = &[
    c("monthly", "月报", "monthly"),
    c("quarterly", "季报", "quarterly"),
];

/// States of a submission.
pub const SUBMISSION_STATES: &[Code] = &[
    c("draft", "草稿", "draft"),
    c("submitted", "待区级审核", "awaiting district review"),
    c("district_approved", "待市级审批", "awaiting city approval"),
    c("approved", "已通过并入库", "approved and merged"),
    c("rejected", "已退回", "returned"),
];

/// States of a reporting task (one project, one form, one period).
pub const TASK_STATES: &[Code] = &[
    c("open", "待填报", "to report"),
    c("submitted", "已提交", "submitted"),
    c("overdue", "已逾期", "overdue"),
];

/// Kinds of persistent background job.
pub const JOB_KINDS: &[Code] = &[
    c("open_period", "开启填报期", "open a reporting period"),
    c("remind", "截止提醒", "deadline reminder"),
    c("mark_overdue", "标记逾期", "mark overdue reports"),
    c(
        "evaluate_life_circle",
        "生活圈评价",
        "life-circle evaluation",
    ),
];

/// States of a job.
pub const JOB_STATES: &[Code] = &[
    c("pending", "待执行", "pending"),
    c("running", "执行中", "running"),
    c("done", "已完成", "done"),
    c("failed", "失败", "failed"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_facility_category_has_a_tier_in_the_tier_list() {
        for cat in FACILITY_CATEGORIES {
            let tier =
                facility_tier(cat.code).unwrap_or_else(|| panic!("{} has no tier", cat.code));
            assert!(find(FACILITY_TIERS, tier).is_some(), "{tier}");
        }
    }

    #[test]
    fn codes_are_unique_within_each_list() {
        for list in [
            ADMIN_LEVELS,
            ADMIN_KINDS,
            RENEWAL_KINDS,
            PROJECT_STAGES,
            LAND_USES,
            FACILITY_CATEGORIES,
            BUILDING_USES,
            PLAN_KINDS,
            REPORT_STATUSES,
        ] {
            let mut codes: Vec<_> = list.iter().map(|c| c.code).collect();
            codes.sort();
            let n = codes.len();
            codes.dedup();
            assert_eq!(n, codes.len(), "duplicate code in {:?}", list[0]);
        }
    }
}
