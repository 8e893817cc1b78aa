//! Roles in the ledger: `hr` and `admin`, granted and revoked by an admin or the operator.

use super::by_of;
use crate::{Actor, App, AppResult, Receipt, authz};
use valuetree_core::domain::Role;
use valuetree_core::event::Event;

impl App {
    pub fn grant_role(&self, actor: &Actor, person_id: &str, role: Role) -> AppResult<Receipt> {
        authz::administer(actor)?;
        self.append(
            actor,
            vec![Event::RoleGranted {
                by: by_of(actor),
                granted_on: self.today(),
                person_id: person_id.to_string(),
                role,
            }],
        )
    }

    pub fn revoke_role(&self, actor: &Actor, person_id: &str, role: Role) -> AppResult<Receipt> {
        authz::administer(actor)?;
        self.append(
            actor,
            vec![Event::RoleRevoked {
                by: by_of(actor),
                person_id: person_id.to_string(),
                revoked_on: self.today(),
                role,
            }],
        )
    }
}
