//! The tenant's data: connections, clients, users (with bcrypt hashes, never
//! plain passwords), failed-login counters and import jobs; and the user
//! JSON as the Management API shows it.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::custom_hash::PasswordHash;
use crate::model::{ClientAuthError, PrimaryIdentity};
use crate::records::{ExportJob, Job};
use crate::seed::Seed;

pub const PASSWORD_REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";

#[derive(Clone)]
pub struct Connection {
    pub id: String,
    pub name: String,
    pub strategy: String,
    pub options: Map<String, Value>,
}

#[derive(Clone)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    /// Enabled connections by name; `None`: all.
    pub connections: Option<Vec<String>>,
}

impl Client {
    /// Whether `connection` is enabled for this client.
    pub fn uses(&self, connection: &str) -> bool {
        self.connections
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == connection))
    }

    pub fn allows_password_realm(&self) -> bool {
        self.grant_types
            .iter()
            .any(|g| g == "password" || g == PASSWORD_REALM_GRANT)
    }

    pub fn allows(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

/// A stored user. `password_hash` is what they log in with (see `custom_hash`).
#[derive(Clone)]
pub struct User {
    pub raw_id: String,
    /// The identity's provider: the connection's strategy (`auth0` for a
    /// database, `ad` for AD/LDAP), set when the tenant stores the user.
    pub provider: String,
    pub connection: String,
    pub email: String,
    pub email_verified: bool,
    pub username: Option<String>,
    pub name: String,
    pub nickname: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: String,
    pub app_metadata: Map<String, Value>,
    pub user_metadata: Map<String, Value>,
    pub blocked: bool,
    /// Whether `blocked` was ever set (seeded, patched or imported): the
    /// Management API shows it then, `false` included, and leaves it out
    /// before.
    pub blocked_shown: bool,
    pub mfa: bool,
    pub password_hash: Option<PasswordHash>,
    /// Linked under another provider's identity (the root `user_id`).
    pub primary: Option<PrimaryIdentity>,
    pub created_at: String,
    pub updated_at: String,
    pub last_login: Option<String>,
    pub logins_count: u64,
}

/// The profile fields a new user starts with when only some are given.
pub struct NewUser {
    pub raw_id: String,
    pub connection: String,
    pub email: String,
    pub email_verified: bool,
    pub username: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub app_metadata: Map<String, Value>,
    pub user_metadata: Map<String, Value>,
    pub blocked: bool,
    pub mfa: bool,
    pub password_hash: Option<PasswordHash>,
    pub primary: Option<PrimaryIdentity>,
}

impl User {
    /// Auth0's defaults: name is the email, nickname its local part,
    /// picture a Gravatar with Auth0's initials fallback.
    pub fn new(new: NewUser) -> User {
        let email = new.email.to_lowercase();
        let local = email.split('@').next().unwrap_or_default().to_owned();
        let now = clock::now_iso();
        User {
            name: new.name.unwrap_or_else(|| email.clone()),
            nickname: new.nickname.unwrap_or_else(|| local.clone()),
            picture: new
                .picture
                .unwrap_or_else(|| default_picture(&email, &local)),
            raw_id: new.raw_id,
            provider: "auth0".to_owned(),
            connection: new.connection,
            email,
            email_verified: new.email_verified,
            username: new.username,
            given_name: new.given_name,
            family_name: new.family_name,
            app_metadata: new.app_metadata,
            user_metadata: new.user_metadata,
            blocked: new.blocked,
            blocked_shown: new.blocked,
            mfa: new.mfa,
            password_hash: new.password_hash,
            primary: new.primary,
            created_at: now.clone(),
            updated_at: now,
            last_login: None,
            logins_count: 0,
        }
    }

    /// `<provider>|<raw id>` (`auth0|…` for database users, `ad|…` for
    /// AD/LDAP), or the primary identity's id for a linked user.
    pub fn user_id(&self) -> String {
        match &self.primary {
            Some(primary) => primary.root_user_id(),
            None => format!("{}|{}", self.provider, self.raw_id),
        }
    }

    /// `identities[]`: the primary identity first, then the database one.
    fn identities(&self) -> Value {
        let database = json!({
            "provider": self.provider,
            "connection": self.connection,
            "user_id": self.raw_id,
            "isSocial": false,
        });
        match &self.primary {
            Some(primary) => json!([{
                "provider": primary.provider,
                "connection": primary.provider,
                "user_id": primary.user_id,
                "isSocial": true,
            }, database]),
            None => json!([database]),
        }
    }

    /// The user as `GET /api/v2/users/{id}` returns it.
    pub fn to_json(&self) -> Value {
        let mut user = json!({
            "user_id": self.user_id(),
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.name,
            "nickname": self.nickname,
            "picture": self.picture,
            "identities": self.identities(),
            "app_metadata": self.app_metadata,
            "user_metadata": self.user_metadata,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "logins_count": self.logins_count,
        });
        let object = user.as_object_mut().expect("built as an object");
        let optional = [
            ("username", &self.username),
            ("given_name", &self.given_name),
            ("family_name", &self.family_name),
            ("last_login", &self.last_login),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                object.insert(key.to_owned(), Value::String(value.clone()));
            }
        }
        if self.blocked_shown {
            object.insert("blocked".to_owned(), Value::Bool(self.blocked));
        }
        if self.mfa {
            object.insert("multifactor".to_owned(), json!(["guardian"]));
        }
        user
    }

    pub fn touch(&mut self) {
        self.updated_at = clock::now_iso();
    }
}

fn default_picture(email: &str, local: &str) -> String {
    let hash: String = Sha256::digest(email.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let initials: String = local
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(2)
        .collect::<String>()
        .to_ascii_lowercase();
    let initials = if initials.is_empty() {
        "u".to_owned()
    } else {
        initials
    };
    format!(
        "https://s.gravatar.com/avatar/{hash}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2F{initials}.png"
    )
}

/// Top-level merge as `PATCH /api/v2/users/{id}` does for metadata: a key
/// set to `null` is removed, any other value replaces the old one whole
/// (nested objects are not merged), and an empty object removes all of it
/// (Auth0's "manage metadata with the Management API").
pub fn merge_metadata(current: &mut Map<String, Value>, patch: &Map<String, Value>) {
    if patch.is_empty() {
        current.clear();
    }
    for (key, value) in patch {
        if value.is_null() {
            current.remove(key);
        } else {
            current.insert(key.clone(), value.clone());
        }
    }
}

/// Everything the emulated tenant holds.
pub struct Tenant {
    pub connections: Vec<Connection>,
    pub clients: Vec<Client>,
    users: Vec<User>,
    by_user_id: HashMap<String, usize>,
    pub bcrypt_cost: u32,
    pub brute_force_threshold: u32,
    /// How `/oauth/token` refuses a client that fails to authenticate.
    pub client_auth_error: ClientAuthError,
    /// Failed logins in a row, by user (or by realm and name for unknown users).
    pub failures: HashMap<String, u32>,
    pub jobs: HashMap<String, Job>,
    /// Job ids in creation order.
    pub job_order: Vec<String>,
    /// Users-export jobs, by id.
    pub exports: HashMap<String, ExportJob>,
    /// Custom APIs (client-credentials audiences besides the Management API).
    pub apis: Vec<crate::api_grants::SeedApi>,
}

impl Tenant {
    /// Builds the tenant from a validated seed, hashing the passwords with
    /// bcrypt on every core (so hundreds of users load in well under a second at cost 4).
    pub fn from_seed(seed: &Seed) -> Tenant {
        let details: Vec<(String, Map<String, Value>)> = match &seed.connections {
            Some(list) => list
                .iter()
                .map(|c| {
                    let strategy = c.strategy.clone().unwrap_or_else(|| "auth0".to_owned());
                    (strategy, c.options.clone())
                })
                .collect(),
            None => vec![("auth0".to_owned(), Map::new())],
        };
        let connections: Vec<Connection> = seed
            .connection_list()
            .into_iter()
            .zip(details)
            .map(|((name, id), (strategy, options))| Connection {
                id,
                name,
                strategy,
                options,
            })
            .collect();
        let clients = seed
            .clients
            .iter()
            .map(|c| Client {
                client_id: c.client_id.clone(),
                client_secret: c.client_secret.clone(),
                grant_types: c.grant_types.clone(),
                scopes: c.scopes.clone(),
                connections: c.connections.clone(),
            })
            .collect();
        let hashes = hash_all(
            seed.users.iter().map(|u| u.password.as_deref()).collect(),
            seed.bcrypt_cost,
        );
        let mut tenant = Tenant {
            connections,
            clients,
            users: Vec::with_capacity(seed.users.len()),
            by_user_id: HashMap::new(),
            bcrypt_cost: seed.bcrypt_cost,
            brute_force_threshold: seed.brute_force_threshold,
            client_auth_error: seed.client_auth_error,
            failures: HashMap::new(),
            jobs: HashMap::new(),
            job_order: Vec::new(),
            exports: HashMap::new(),
            apis: seed.apis.clone(),
        };
        for (user, password_hash) in seed.users.iter().zip(hashes) {
            let connection = user
                .connection
                .clone()
                .unwrap_or_else(|| tenant.connections[0].name.clone());
            tenant.insert(User::new(NewUser {
                raw_id: user.raw_id(&connection),
                connection,
                email: user.email.clone(),
                email_verified: user.email_verified,
                username: user.username.clone(),
                name: user.name.clone(),
                nickname: user.nickname.clone(),
                given_name: user.given_name.clone(),
                family_name: user.family_name.clone(),
                picture: user.picture.clone(),
                app_metadata: user.app_metadata.clone(),
                user_metadata: user.user_metadata.clone(),
                blocked: user.blocked,
                mfa: user.mfa,
                password_hash: password_hash.map(PasswordHash::Bcrypt),
                primary: user.primary_identity.clone(),
            }));
        }
        tenant
    }

    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// Stores `user`, its provider that of its connection's strategy.
    pub fn insert(&mut self, mut user: User) -> usize {
        if let Some(connection) = self.connection_by_name(&user.connection) {
            user.provider.clone_from(&connection.strategy);
        }
        let index = self.users.len();
        self.by_user_id.insert(user.user_id(), index);
        self.users.push(user);
        index
    }

    pub fn user(&self, index: usize) -> &User {
        &self.users[index]
    }

    pub fn user_mut(&mut self, index: usize) -> &mut User {
        &mut self.users[index]
    }

    /// By root `user_id` (`auth0|…`).
    pub fn find_by_user_id(&self, user_id: &str) -> Option<usize> {
        self.by_user_id.get(user_id).copied()
    }

    /// By email (compared lower-cased) in one connection.
    pub fn find_by_email(&self, connection: &str, email: &str) -> Option<usize> {
        let email = email.to_lowercase();
        self.users
            .iter()
            .position(|u| u.connection == connection && u.email == email)
    }

    /// By username (case-insensitive) in one connection.
    pub fn find_by_username(&self, connection: &str, username: &str) -> Option<usize> {
        let username = username.to_lowercase();
        self.users.iter().position(|u| {
            u.connection == connection
                && u.username.as_deref().map(str::to_lowercase).as_deref() == Some(&username)
        })
    }

    pub fn connection_by_name(&self, name: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.name == name)
    }

    pub fn connection_by_id(&self, id: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.id == id)
    }

    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }
}

/// bcrypt-hashes passwords in parallel, keeping their order.
fn hash_all(passwords: Vec<Option<&str>>, cost: u32) -> Vec<Option<String>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let chunk = passwords.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = passwords
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|p| p.map(|p| bcrypt::hash(p, cost).expect("cost validated")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("bcrypt thread"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_merge_is_top_level_and_null_removes() {
        let mut current = json!({"a": 1, "b": {"x": 1, "y": 2}, "c": 3})
            .as_object()
            .cloned()
            .expect("object");
        let patch = json!({"b": {"x": 9}, "c": null, "d": "new"})
            .as_object()
            .cloned()
            .expect("object");
        merge_metadata(&mut current, &patch);
        assert_eq!(
            Value::Object(current.clone()),
            json!({"a": 1, "b": {"x": 9}, "d": "new"})
        );
        merge_metadata(&mut current, &Map::new());
        assert!(current.is_empty(), "an empty object removes it all");
    }

    #[test]
    fn seeded_passwords_are_hashed_and_emails_lowered() {
        let seed = Seed::from_json(
            r#"{"bcrypt_cost":4,"users":[
                {"id":"1","email":"Jane@Example.com","password":"secret"},
                {"id":"2","email":"b@example.com"}]}"#,
        )
        .expect("valid");
        let tenant = Tenant::from_seed(&seed);
        let jane = tenant.user(0);
        assert_eq!(jane.email, "jane@example.com");
        let Some(PasswordHash::Bcrypt(hash)) = &jane.password_hash else {
            panic!("hashed with bcrypt")
        };
        assert!(hash.starts_with("$2b$04$"));
        assert!(bcrypt::verify("secret", hash).expect("verifies"));
        assert!(tenant.user(1).password_hash.is_none());
        assert_eq!(tenant.find_by_user_id("auth0|2"), Some(1));
        let json = jane.to_json();
        assert_eq!(json["name"], "jane@example.com");
        assert_eq!(json["nickname"], "jane");
        assert!(json.get("blocked").is_none());
        assert!(json.get("last_login").is_none());
    }

    #[test]
    fn users_of_an_ad_connection_are_shown_as_auth0_shows_them() {
        let seed = Seed::from_json(
            r#"{"bcrypt_cost":4,"connections":[{"name":"corp-ad","strategy":"ad"},{"name":"db"}],"users":[
                {"id":"corp-ad|jdoe","connection":"corp-ad","email":"j@corp.example"},
                {"id":"7","connection":"db","email":"j@corp.example"}]}"#,
        )
        .expect("valid");
        let tenant = Tenant::from_seed(&seed);
        assert_eq!(tenant.find_by_user_id("ad|corp-ad|jdoe"), Some(0));
        assert_eq!(tenant.find_by_user_id("auth0|corp-ad|jdoe"), None);
        assert_eq!(tenant.find_by_user_id("auth0|7"), Some(1));
        let json = tenant.user(0).to_json();
        assert_eq!(json["user_id"], "ad|corp-ad|jdoe");
        assert_eq!(
            json["identities"],
            json!([{"provider": "ad", "connection": "corp-ad", "user_id": "corp-ad|jdoe", "isSocial": false}])
        );
    }
}
