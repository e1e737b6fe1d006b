use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{Deserializer, Visitor};
use serde::Deserialize;

/// A user as the old tenant's Management API returns it
/// (`GET /api/v2/users/{id}`, `GET /api/v2/users-by-email`, an export line).
///
/// Only what the migration reads is kept; timestamps, logins and the like are
/// ignored on the way in, so they can never leak into a profile.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "M: Deserialize<'de>"))]
pub struct SourceUser<M> {
    /// `auth0|<id>` for database users.
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    #[serde(default = "Vec::new")]
    pub identities: Vec<Identity>,
    pub app_metadata: Option<M>,
    pub user_metadata: Option<M>,
    pub blocked: Option<bool>,
}

/// One entry of a user's `identities[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Identity {
    pub provider: Option<String>,
    /// The connection (realm) the identity lives in.
    pub connection: Option<String>,
    /// The raw id inside that connection, without any `provider|` prefix.
    #[serde(default)]
    pub user_id: IdentityUserId,
}

impl<M> SourceUser<M> {
    /// The identity this user has in `realm`, if any.
    pub fn identity_in(&self, realm: &str) -> Option<&Identity> {
        self.identities
            .iter()
            .find(|identity| identity.connection.as_deref() == Some(realm))
    }
}

/// An identity's `user_id`: a string for database connections, a number for
/// some social providers. Only strings are ever used as ids, so a number is
/// kept as "none" rather than failing the whole user.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IdentityUserId(pub Option<String>);

impl<'de> Deserialize<'de> for IdentityUserId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl<'de> Visitor<'de> for IdVisitor {
            type Value = IdentityUserId;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(IdentityUserId(Some(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(IdentityUserId(Some(v)))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(IdentityUserId(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(IdentityUserId(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(IdentityUserId(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(IdentityUserId(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(IdentityUserId(None))
            }
        }

        deserializer.deserialize_any(IdVisitor)
    }
}
