//! The demo's accounts: one per role, with the organisations they belong to. Their passwords
//! and TOTP secrets (derived from the seed and the user name: [`demo_totp_secret`]) are printed
//! in the README: they exist only in the demo, never in a store made any other way.

use gengxin_model::{Feature, LayerId};
use rand::RngCore;

use crate::{demo_time, rng_for};

/// The TOTP secret of a demo account (base32; enter it in an authenticator app, or print the
/// current code with `gengxin totp --user NAME`): the first 20 bytes of
/// SHA-256(`gengxin demo totp {seed} {username}`). Generated data: anyone can compute it.
pub fn demo_totp_secret(seed: u64, username: &str) -> String {
    gengxin_auth::totp::derived_secret(&format!("gengxin demo totp {seed} {username}"))
}

/// `(username, role, password, display name)` of every demo account.
pub const DEMO_ACCOUNTS: &[(&str, &str, &str, &str)] = &[
    ("admin", "city_admin", "Crane-Tower-2026", "市更新办管理员"),
    ("leader", "city_leader", "East-Lake-2026", "市领导"),
    ("wuchang", "district", "Han-River-2026", "武昌区更新办"),
    ("entity", "entity", "Hubu-Alley-2026", "改造主体联系人"),
    (
        "worker",
        "community_worker",
        "Guiyuan-Temple-26",
        "社区网格员",
    ),
    (
        "security",
        "security_admin",
        "Jade-Shield-2026",
        "安全管理员",
    ),
    ("auditor", "audit_admin", "Ledger-Bell-2026", "审计管理员"),
];

/// The demo district user's district (武昌区).
pub const DEMO_DISTRICT: &str = "420106";

/// Organisations and users for the generated layers: the entity runs every project of an
/// implementing entity with a project under way in the demo district, the worker serves the
/// first community with special populations.
pub fn accounts(seed: u64, layers: &[(LayerId, Vec<Feature>)]) -> Vec<(LayerId, Vec<Feature>)> {
    let rows = |id: LayerId| {
        layers
            .iter()
            .filter(move |(l, _)| *l == id)
            .flat_map(|(_, fs)| fs.iter())
    };
    // An entity with work under way in the demo district, so it has reports to file there.
    let entity_name = rows(LayerId::Projects)
        .filter(|p| {
            p.get("district_code").as_str() == Some(DEMO_DISTRICT)
                && p.get("stage").as_str() != Some("completed")
        })
        .find_map(|p| p.get("entity").as_str())
        .unwrap_or("改造主体")
        .to_owned();
    let entity_projects: Vec<String> = rows(LayerId::Projects)
        .filter(|p| p.get("entity").as_str() == Some(entity_name.as_str()))
        .map(|p| p.id.clone())
        .collect();
    let community = rows(LayerId::SpecialPopulations)
        .find_map(|p| p.get("community_code").as_str())
        .unwrap_or("420106001001")
        .to_owned();
    let at = demo_time();
    let org = |id: &str, name: &str, kind: &str| {
        Feature::new(id, gengxin_model::GENERATED, at)
            .set("name", name)
            .set("kind", kind)
    };
    let orgs = vec![
        org(
            "org-city",
            "武汉市城市更新工作领导小组办公室(示意)",
            "city_department",
        ),
        org(
            "org-wuchang",
            "武昌区城市更新局(示意)",
            "district_government",
        )
        .set("district_code", DEMO_DISTRICT),
        org("org-entity", &entity_name, "implementing_entity"),
        org("org-community", "社区居委会(示意)", "community")
            .set("community_code", community.as_str())
            .set("district_code", &community[..6]),
    ];
    let mut rng = rng_for(seed, "accounts");
    let users = DEMO_ACCOUNTS
        .iter()
        .map(|&(username, role, password, display)| {
            let mut salt = [0u8; 16];
            rng.fill_bytes(&mut salt);
            let organisation = match role {
                "city_admin" | "city_leader" | "security_admin" | "audit_admin" => "org-city",
                "district" => "org-wuchang",
                "entity" => "org-entity",
                _ => "org-community",
            };
            let mut u = Feature::new(username, gengxin_model::GENERATED, at)
                .set("username", username)
                .set("display_name", display)
                .set("role", role)
                .set("organisation_id", organisation)
                .set(
                    "password_hash",
                    gengxin_auth::password::hash_with_salt(password, &salt),
                )
                .set("password_changed_at", gengxin_model::timestamp(&at))
                .set("failed_logins", 0_i64)
                // Plain here (the generator must stay deterministic and has no key file):
                // `gengxin serve` seals it with the key file on start.
                .set("totp_secret", demo_totp_secret(seed, username));
            match role {
                "district" => u = u.set("district_code", DEMO_DISTRICT),
                "entity" => {
                    u = u.set(
                        "project_ids",
                        gengxin_auth::account::projects_json(&entity_projects),
                    )
                }
                "community_worker" => {
                    u = u
                        .set("community_code", community.as_str())
                        .set("district_code", &community[..6])
                }
                _ => {}
            }
            u
        })
        .collect();
    // The monthly progress form (district review, then city approval), and the job that opens
    // the demo's month: a server started later runs it, marks what is overdue and goes on.
    let period = gengxin_report::Period::of(at.date_naive(), false);
    let form = gengxin_report::form_row(
        "progress",
        1,
        "月度进度填报",
        None,
        &gengxin_report::standard_progress_fields(),
        "district_city",
        "monthly",
        5,
        3,
        at,
    );
    let job = gengxin_app::jobs::Job::OpenPeriod {
        form_code: "progress".into(),
        period,
    }
    .row(at);
    vec![
        (LayerId::Organisations, orgs),
        (LayerId::Users, users),
        (LayerId::ReportForms, vec![form]),
        (LayerId::Jobs, vec![job]),
    ]
}
