//! The kinds of records, in the order a migration moves them: the one
//! type every other module names them by (at the bottom of the crate's
//! modules, so none of them imports another for it).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A kind of record, in migration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Clients,
    Authorizations,
    Sessions,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Clients, Phase::Authorizations, Phase::Sessions];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Clients => "clients",
            Phase::Authorizations => "authorizations",
            Phase::Sessions => "sessions",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Phase {
    type Err = String;

    fn from_str(text: &str) -> Result<Phase, String> {
        match text.trim() {
            "clients" => Ok(Phase::Clients),
            "authorizations" | "authorisations" | "authz" => Ok(Phase::Authorizations),
            "sessions" => Ok(Phase::Sessions),
            other => Err(format!(
                "{other:?} is not a phase (clients, authorizations, sessions)"
            )),
        }
    }
}
