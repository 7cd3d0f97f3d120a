//! The access policy: the roles of `DESIGN.md` with their scopes, applied to the catalogue's
//! access classes ([`Access`]).
//!
//! | class       | public | city_admin | city_leader | district          | entity        | community_worker |
//! |-------------|--------|------------|-------------|-------------------|---------------|------------------|
//! | `Public`    | read   | read/write | read        | read              | read          | read             |
//! | `Projects`  | —      | read/write | read        | own district      | own projects  | —                |
//! | `Community` | —      | read/write | read        | own district      | —             | own community    |
//! | `Personal`  | —      | read/write | —           | —                 | —             | own community    |
//! | `System`    | — (dedicated endpoints only)                                                       |
//!
//! District and entity users change project data only through submissions (the reporting
//! chain); the community worker writes the community and personal records of their community.
//!
//! 三权分立 (separation of the three administrator duties, 等保 level 3): the system
//! administrator (`city_admin`) manages users, organisations and the system's settings; the
//! security administrator (`security_admin`) roles, scopes, lockouts and second factors; the
//! audit administrator (`audit_admin`) alone reads and verifies the audit log. The two new
//! administrators see only public data. No one grants an administrator role through the API
//! ([`may_assign`]): those accounts are made at the command line.

use std::collections::BTreeSet;

use gengxin_model::{Access, Feature, Layer, LayerId};

/// A role of `DESIGN.md`. The public has no role (a [`Caller`] of `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    CityAdmin,
    CityLeader,
    District,
    Entity,
    CommunityWorker,
    /// 安全管理员: roles, scopes, lockouts, second factors.
    SecurityAdmin,
    /// 审计管理员: the audit log, alone.
    AuditAdmin,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::CityAdmin,
        Role::CityLeader,
        Role::District,
        Role::Entity,
        Role::CommunityWorker,
        Role::SecurityAdmin,
        Role::AuditAdmin,
    ];

    /// The code stored in `users.role` (`gengxin_model::vocab::ROLES`).
    pub fn code(self) -> &'static str {
        match self {
            Role::CityAdmin => "city_admin",
            Role::CityLeader => "city_leader",
            Role::District => "district",
            Role::Entity => "entity",
            Role::CommunityWorker => "community_worker",
            Role::SecurityAdmin => "security_admin",
            Role::AuditAdmin => "audit_admin",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Staff of the city: they see every district.
    pub fn citywide(self) -> bool {
        matches!(self, Role::CityAdmin | Role::CityLeader)
    }

    /// One of the three administrators of 三权分立: made only at the command line.
    pub fn administrator(self) -> bool {
        matches!(
            self,
            Role::CityAdmin | Role::SecurityAdmin | Role::AuditAdmin
        )
    }

    /// The security and audit administrators: they work on accounts and the audit log and see
    /// only public data.
    pub fn data_blind(self) -> bool {
        matches!(self, Role::SecurityAdmin | Role::AuditAdmin)
    }
}

/// A signed-in user: role and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub organisation_id: String,
    /// The district (6-digit code) of a district user.
    pub district: Option<String>,
    /// The community (12-digit code) of a community worker.
    pub community: Option<String>,
    /// The projects an entity runs.
    pub projects: BTreeSet<String>,
}

/// Who is asking: a principal, or the public (`None`).
pub type Caller = Option<Principal>;

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// Not signed in, and the public may not do this (401).
    Unauthenticated,
    /// Signed in, but the role may not do this (403).
    Forbidden,
    /// Not served at all to anyone through this route (404): bookkeeping layers.
    Hidden,
}

/// What a row is about, for scope checks: its district, its project, its community.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowScope {
    pub district: Option<String>,
    pub project: Option<String>,
    pub community: Option<String>,
}

impl RowScope {
    /// The scope a row carries in its own fields. Rows of milestones and progress reports name
    /// only their project: [`RowScope::district`] is then filled from the project by the caller.
    pub fn of(layer: LayerId, f: &Feature) -> RowScope {
        let text = |k: &str| f.get(k).as_str().map(str::to_owned);
        let community = text("community_code");
        RowScope {
            district: text("district_code")
                .or_else(|| community.as_ref().map(|c| c.chars().take(6).collect())),
            project: match layer {
                LayerId::Projects => Some(f.id.clone()),
                LayerId::Milestones | LayerId::ProgressReports | LayerId::Submissions => {
                    text("project_id")
                }
                LayerId::Attachments if text("owner_layer").as_deref() == Some("projects") => {
                    text("owner_id")
                }
                _ => None,
            },
            community,
        }
    }
}

/// May the caller list a layer at all (rows are then filtered by [`can_read_row`])?
pub fn can_read_layer(caller: &Caller, layer: &Layer) -> Result<(), Denied> {
    if layer.access == Access::System {
        return Err(Denied::Hidden);
    }
    if layer.access == Access::Public {
        return Ok(());
    }
    let Some(p) = caller else {
        return Err(Denied::Unauthenticated);
    };
    let allowed = match (layer.access, p.role) {
        (_, Role::CityAdmin) => true,
        (_, r) if r.data_blind() => false,
        (Access::Personal, r) => r == Role::CommunityWorker,
        (Access::Projects, r) => r != Role::CommunityWorker,
        (Access::Community, r) => r != Role::Entity,
        (Access::Public | Access::System, _) => unreachable!("handled above"),
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied::Forbidden)
    }
}

/// May the caller see this row of a layer it may list?
pub fn can_read_row(caller: &Caller, layer: &Layer, row: &RowScope) -> bool {
    if can_read_layer(caller, layer).is_err() {
        return false;
    }
    if layer.access == Access::Public {
        return true;
    }
    let Some(p) = caller else { return false };
    in_scope(p, row)
}

/// Whether a row lies in a principal's scope (city roles: everything).
pub fn in_scope(p: &Principal, row: &RowScope) -> bool {
    match p.role {
        Role::CityAdmin | Role::CityLeader => true,
        Role::District => p.district.is_some() && row.district == p.district,
        Role::Entity => row
            .project
            .as_ref()
            .is_some_and(|id| p.projects.contains(id)),
        Role::CommunityWorker => p.community.is_some() && row.community == p.community,
        Role::SecurityAdmin | Role::AuditAdmin => false,
    }
}

/// May the caller read a custom layer made by an import, given its access class
/// (`vocab::CUSTOM_ACCESS`) and the organisation that imported it? An unknown class reads as
/// the narrowest.
pub fn can_read_custom(
    caller: &Caller,
    access: &str,
    organisation: Option<&str>,
) -> Result<(), Denied> {
    if access == "public" {
        return Ok(());
    }
    let Some(p) = caller else {
        return Err(Denied::Unauthenticated);
    };
    let allowed = match access {
        _ if p.role.data_blind() => false,
        "staff" => true,
        _ => p.role == Role::CityAdmin || organisation == Some(p.organisation_id.as_str()),
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied::Forbidden)
    }
}

/// Does the caller see this layer's positions as stored? Resident reports are public, but a
/// report's point is often the resident's door: the public sees it generalised (about 50 m,
/// `gengxin_engine::privacy`) and without its address; signed-in staff see it as stored.
pub fn sees_exact_positions(caller: &Caller, layer: &Layer) -> bool {
    caller.is_some() || !GENERALISED.contains(&layer.id)
}

/// Public layers whose positions the public sees generalised.
pub const GENERALISED: &[LayerId] = &[LayerId::ResidentReports];

/// Fields of a generalised layer the public does not see (they would undo the generalisation).
pub const WITHHELD_FROM_PUBLIC: &[&str] = &["address"];

/// May the caller create, replace or delete this row directly (not through a submission)?
/// A replacement must be allowed for both the stored row and the new one.
pub fn can_write_row(caller: &Caller, layer: &Layer, row: &RowScope) -> Result<(), Denied> {
    if layer.access == Access::System {
        return Err(Denied::Hidden);
    }
    let Some(p) = caller else {
        return Err(Denied::Unauthenticated);
    };
    let allowed = match p.role {
        Role::CityAdmin => true,
        Role::CommunityWorker => {
            (matches!(layer.access, Access::Community | Access::Personal)
                || layer.id == LayerId::ResidentReports)
                && in_scope(p, row)
        }
        Role::CityLeader
        | Role::District
        | Role::Entity
        | Role::SecurityAdmin
        | Role::AuditAdmin => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied::Forbidden)
    }
}

fn require_role<'a>(caller: &'a Caller, roles: &[Role]) -> Result<&'a Principal, Denied> {
    match caller {
        None => Err(Denied::Unauthenticated),
        Some(p) if roles.contains(&p.role) => Ok(p),
        Some(_) => Err(Denied::Forbidden),
    }
}

/// The system administrator (`city_admin`): users and organisations, rules, imports, forms and
/// evaluations.
pub fn require_admin(caller: &Caller) -> Result<&Principal, Denied> {
    require_system_admin(caller)
}

/// The system administrator (`city_admin`).
pub fn require_system_admin(caller: &Caller) -> Result<&Principal, Denied> {
    require_role(caller, &[Role::CityAdmin])
}

/// The security administrator: roles, scopes, lockouts, second factors.
pub fn require_security_admin(caller: &Caller) -> Result<&Principal, Denied> {
    require_role(caller, &[Role::SecurityAdmin])
}

/// The audit administrator: alone reads and verifies the audit log.
pub fn require_audit_admin(caller: &Caller) -> Result<&Principal, Denied> {
    require_role(caller, &[Role::AuditAdmin])
}

/// The system or the security administrator: they both list the accounts they work on.
pub fn require_account_admin(caller: &Caller) -> Result<&Principal, Denied> {
    require_role(caller, &[Role::CityAdmin, Role::SecurityAdmin])
}

/// May an administrator of this role give an account the target role (through the API)? The
/// system administrator when it makes an account, the security administrator when it changes
/// one; never an administrator role (those are made at the command line), never by anyone else.
pub fn may_assign(actor: Role, target: Role) -> bool {
    matches!(actor, Role::CityAdmin | Role::SecurityAdmin) && !target.administrator()
}

/// Any signed-in user.
pub fn require_login(caller: &Caller) -> Result<&Principal, Denied> {
    caller.as_ref().ok_or(Denied::Unauthenticated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role) -> Caller {
        Some(Principal {
            user_id: "u".into(),
            username: "u".into(),
            role,
            organisation_id: "o".into(),
            district: Some("420106".into()),
            community: Some("420106001001".into()),
            projects: ["prj-1".to_owned()].into(),
        })
    }

    #[test]
    fn scopes_keep_each_role_to_its_own_rows() {
        let projects = Layer::by_id(LayerId::Projects);
        let own = RowScope {
            district: Some("420106".into()),
            project: Some("prj-1".into()),
            community: None,
        };
        let other = RowScope {
            district: Some("420102".into()),
            project: Some("prj-2".into()),
            community: None,
        };
        for r in [Role::CityAdmin, Role::CityLeader] {
            assert!(can_read_row(&who(r), projects, &other));
        }
        for r in [Role::District, Role::Entity] {
            assert!(can_read_row(&who(r), projects, &own), "{r:?}");
            assert!(!can_read_row(&who(r), projects, &other), "{r:?}");
        }
        assert!(!can_read_row(&who(Role::CommunityWorker), projects, &own));
        assert!(!can_read_row(&None, projects, &own));
        assert_eq!(
            can_read_layer(&None, projects),
            Err(Denied::Unauthenticated)
        );

        let cases = Layer::by_id(LayerId::SpecialPopulations);
        let mine = RowScope {
            community: Some("420106001001".into()),
            district: Some("420106".into()),
            project: None,
        };
        let theirs = RowScope {
            community: Some("420106001002".into()),
            district: Some("420106".into()),
            project: None,
        };
        assert!(can_read_row(&who(Role::CommunityWorker), cases, &mine));
        assert!(!can_read_row(&who(Role::CommunityWorker), cases, &theirs));
        assert!(can_read_row(&who(Role::CityAdmin), cases, &theirs));
        for r in [Role::CityLeader, Role::District, Role::Entity] {
            assert_eq!(can_read_layer(&who(r), cases), Err(Denied::Forbidden));
        }
        assert_eq!(
            can_read_layer(&who(Role::CityAdmin), Layer::by_id(LayerId::Users)),
            Err(Denied::Hidden)
        );
    }

    #[test]
    fn only_the_admin_and_the_community_worker_write_directly() {
        let parcels = Layer::by_id(LayerId::Parcels);
        let row = RowScope::default();
        assert!(can_write_row(&who(Role::CityAdmin), parcels, &row).is_ok());
        for r in [
            Role::CityLeader,
            Role::District,
            Role::Entity,
            Role::CommunityWorker,
        ] {
            assert_eq!(
                can_write_row(&who(r), parcels, &row),
                Err(Denied::Forbidden)
            );
        }
        assert_eq!(
            can_write_row(&None, parcels, &row),
            Err(Denied::Unauthenticated)
        );
        let supplies = Layer::by_id(LayerId::Supplies);
        let mine = RowScope {
            community: Some("420106001001".into()),
            ..RowScope::default()
        };
        assert!(can_write_row(&who(Role::CommunityWorker), supplies, &mine).is_ok());
        assert!(
            can_write_row(&who(Role::CommunityWorker), supplies, &RowScope::default()).is_err()
        );
    }

    #[test]
    fn the_three_administrators_are_separate() {
        let [sys, sec, aud] = [Role::CityAdmin, Role::SecurityAdmin, Role::AuditAdmin].map(who);
        assert!(require_system_admin(&sys).is_ok());
        assert_eq!(require_system_admin(&sec), Err(Denied::Forbidden));
        assert_eq!(require_system_admin(&aud), Err(Denied::Forbidden));
        assert!(require_security_admin(&sec).is_ok());
        assert_eq!(require_security_admin(&sys), Err(Denied::Forbidden));
        assert_eq!(require_security_admin(&aud), Err(Denied::Forbidden));
        assert!(require_audit_admin(&aud).is_ok());
        assert_eq!(require_audit_admin(&sys), Err(Denied::Forbidden));
        assert_eq!(require_audit_admin(&sec), Err(Denied::Forbidden));
        assert_eq!(require_audit_admin(&None), Err(Denied::Unauthenticated));
        // No one hands out an administrator role, not even to itself.
        for actor in Role::ALL {
            for target in [Role::CityAdmin, Role::SecurityAdmin, Role::AuditAdmin] {
                assert!(!may_assign(actor, target), "{actor:?} → {target:?}");
            }
        }
        assert!(may_assign(Role::SecurityAdmin, Role::District));
        assert!(may_assign(Role::CityAdmin, Role::CityLeader));
        assert!(!may_assign(Role::AuditAdmin, Role::District));
        assert!(!may_assign(Role::CityLeader, Role::District));
        // The security and audit administrators see public data only.
        let projects = Layer::by_id(LayerId::Projects);
        let parcels = Layer::by_id(LayerId::Parcels);
        for p in [&sec, &aud] {
            assert_eq!(can_read_layer(p, projects), Err(Denied::Forbidden));
            assert!(can_read_layer(p, parcels).is_ok());
            assert_eq!(can_read_custom(p, "staff", None), Err(Denied::Forbidden));
            assert!(can_write_row(p, parcels, &RowScope::default()).is_err());
        }
        for r in Role::ALL {
            assert_eq!(Role::from_code(r.code()), Some(r));
        }
    }

    #[test]
    fn custom_layers_are_read_by_their_access_class() {
        assert_eq!(can_read_custom(&None, "public", None), Ok(()));
        for access in ["staff", "organisation", "world"] {
            assert_eq!(
                can_read_custom(&None, access, Some("o")),
                Err(Denied::Unauthenticated)
            );
        }
        let leader = who(Role::CityLeader);
        assert_eq!(can_read_custom(&leader, "staff", None), Ok(()));
        assert_eq!(can_read_custom(&leader, "organisation", Some("o")), Ok(()));
        assert_eq!(
            can_read_custom(&leader, "organisation", Some("other")),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            can_read_custom(&leader, "organisation", None),
            Err(Denied::Forbidden)
        );
        // An unknown class reads as the narrowest.
        assert_eq!(
            can_read_custom(&leader, "world", None),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            can_read_custom(&who(Role::CityAdmin), "organisation", Some("other")),
            Ok(())
        );
    }

    #[test]
    fn a_row_scope_is_read_from_its_fields() {
        let f = Feature::new("m1", "x", chrono::Utc::now())
            .set("project_id", "prj-9")
            .set("community_code", "420106001001");
        let s = RowScope::of(LayerId::Milestones, &f);
        assert_eq!(s.project.as_deref(), Some("prj-9"));
        assert_eq!(s.district.as_deref(), Some("420106"));
        let p = Feature::new("prj-3", "x", chrono::Utc::now()).set("district_code", "420102");
        assert_eq!(
            RowScope::of(LayerId::Projects, &p).project.as_deref(),
            Some("prj-3")
        );
    }
}
