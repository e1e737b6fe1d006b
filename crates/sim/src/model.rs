//! Plain types the seed, the store and the endpoints share: a client as the
//! seed declares it, a linked user's primary identity, and how the token
//! endpoint refuses a client. They know no other module.

use serde::Deserialize;

/// An application with its credentials, grants and Management API scopes.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedClient {
    pub client_id: String,
    pub client_secret: String,
    /// e.g. `password` (which allows password-realm), `client_credentials`.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Management API scopes granted to `client_credentials` tokens.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The connections enabled for this client (by name); omitted, all of
    /// them. A password-realm grant for a realm not in the list is refused.
    #[serde(default)]
    pub connections: Option<Vec<String>>,
}

/// The two refusals reported for a client that fails to authenticate at
/// `/oauth/token`; both are 401.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthError {
    /// `invalid_client`, as OAuth 2.0 (RFC 6749 5.2) names it.
    #[default]
    InvalidClient,
    /// `access_denied` "Unauthorized", as Auth0's users report it.
    AccessDenied,
}

/// The primary identity a database user is linked under (account linking):
/// the user's root `user_id` is then `<provider>|<user_id>`, and the
/// database identity is the secondary one.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimaryIdentity {
    /// e.g. `google-oauth2`; also the name of its connection.
    pub provider: String,
    /// The id within that provider.
    pub user_id: String,
}

impl PrimaryIdentity {
    /// `<provider>|<user_id>`.
    pub fn root_user_id(&self) -> String {
        format!("{}|{}", self.provider, self.user_id)
    }
}
