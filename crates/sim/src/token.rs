//! `POST /oauth/token`: the password-realm grant (what the login script
//! uses; also `password` with a `realm`, as `@auth0/auth0-auth-js` sends
//! it) and client credentials (Management API tokens).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};

use crate::apis::scope_for;
use crate::clock::{self, unix_seconds};
use crate::custom_hash::PasswordHash;
use crate::model::ClientAuthError;
use crate::reply::{json, oauth_error};
use crate::state::{lock, AppState};
use crate::store::{Client, PASSWORD_REALM_GRANT};
use crate::text::random_token;

/// The standard resource owner password grant.
pub const PASSWORD_GRANT: &str = "password";

/// Lifetime of id_tokens (Auth0's default, 10 hours).
const ID_TOKEN_LIFETIME_SECS: u64 = 36_000;
/// Lifetime of the (opaque) user access token.
const USER_ACCESS_TOKEN_LIFETIME_SECS: u64 = 86_400;

/// What a token request's body gave.
pub enum RequestFields {
    /// The fields of a JSON object or a form.
    Read(HashMap<String, String>),
    /// A body of its media type that does not parse as one.
    Malformed,
    /// A body under any other media type, or none: Auth0 reads only
    /// `application/json` and `application/x-www-form-urlencoded`, so a JSON
    /// body sent as `text/plain` or without a Content-Type carries nothing.
    NotRead,
}

/// The form or JSON fields of a token request, read by its media type only.
pub fn parse_fields(headers: &HeaderMap, body: &[u8]) -> RequestFields {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-www-form-urlencoded" => RequestFields::Read(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ),
        "application/json" => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => RequestFields::Read(
                object
                    .into_iter()
                    .filter_map(|(k, v)| match v {
                        Value::String(s) => Some((k, s)),
                        Value::Null => None,
                        other => Some((k, other.to_string())),
                    })
                    .collect(),
            ),
            _ => RequestFields::Malformed,
        },
        _ => RequestFields::NotRead,
    }
}

/// The grant type named in a token request body, for the counters.
pub fn grant_type_of(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    match parse_fields(headers, body) {
        RequestFields::Read(mut fields) => fields.remove("grant_type"),
        RequestFields::Malformed | RequestFields::NotRead => None,
    }
}

pub async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (mut fields, read) = match parse_fields(&headers, &body) {
        RequestFields::Read(fields) => (fields, true),
        RequestFields::NotRead => (HashMap::new(), false),
        RequestFields::Malformed => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request body must be JSON or application/x-www-form-urlencoded",
            )
        }
    };
    basic_credentials(&headers, &mut fields);
    if !read && !fields.contains_key("client_id") {
        // Nothing was read, so no client authenticated (as Auth0 answers a
        // JSON body whose Content-Type is missing or wrong).
        return client_refused(lock(&state.tenant).client_auth_error);
    }
    match fields.get("grant_type").map(String::as_str) {
        None | Some("") => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: grant_type",
        ),
        Some(grant @ (PASSWORD_REALM_GRANT | PASSWORD_GRANT)) => {
            password_realm(&state, &headers, &fields, grant).await
        }
        Some("client_credentials") => client_credentials(&state, &headers, &fields),
        Some(other) => oauth_error(
            StatusCode::FORBIDDEN,
            "unsupported_grant_type",
            &format!("Unsupported grant type: {other}"),
        ),
    }
}

/// `client_secret_basic`: credentials in an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap, fields: &mut HashMap<String, String>) {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return;
    };
    if let Some((id, secret)) = text.split_once(':') {
        fields
            .entry("client_id".to_owned())
            .or_insert_with(|| id.to_owned());
        fields
            .entry("client_secret".to_owned())
            .or_insert_with(|| secret.to_owned());
    }
}

/// The 401 for a client that failed to authenticate, in the seed's form.
fn client_refused(form: ClientAuthError) -> Response {
    match form {
        ClientAuthError::InvalidClient => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: unknown client or wrong client_secret",
        ),
        ClientAuthError::AccessDenied => {
            oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized")
        }
    }
}

/// The client, if its id and secret are right; else the 401 to send.
fn authenticate(
    state: &AppState,
    fields: &HashMap<String, String>,
) -> Result<Client, Box<Response>> {
    let tenant = lock(&state.tenant);
    let client = match (fields.get("client_id"), fields.get("client_secret")) {
        (Some(id), Some(secret)) => tenant
            .client(id)
            .filter(|client| &client.client_secret == secret),
        _ => None,
    };
    client
        .cloned()
        .ok_or_else(|| Box::new(client_refused(tenant.client_auth_error)))
}

fn required<'a>(fields: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Box<Response>> {
    match fields.get(name) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("Missing required parameter: {name}"),
        ))),
    }
}

async fn password_realm(
    state: &AppState,
    headers: &HeaderMap,
    fields: &HashMap<String, String>,
    grant: &str,
) -> Response {
    match try_password_realm(state, headers, fields, grant).await {
        Ok(response) => response,
        Err(response) => *response,
    }
}

/// `grant` is the password-realm grant, or `password` (which this emulator
/// serves only with a `realm`: it has no tenant "Default Directory").
async fn try_password_realm(
    state: &AppState,
    headers: &HeaderMap,
    fields: &HashMap<String, String>,
    grant: &str,
) -> Result<Response, Box<Response>> {
    let client = authenticate(state, fields)?;
    if !client.allows_password_realm() {
        return Err(Box::new(oauth_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            &format!("Grant type '{grant}' not allowed for the client."),
        )));
    }
    let username = required(fields, "username")?;
    let password = required(fields, "password")?;
    let realm = required(fields, "realm")?;

    // Find the user and check the brute-force counter, then verify the
    // password without holding the lock (bcrypt is slow on purpose).
    let (found, key, hash) = find_login(state, &client, realm, username)?;
    let right = match hash {
        Some(hash) => {
            let password = password.to_owned();
            tokio::task::spawn_blocking(move || hash.verify(&password))
                .await
                .unwrap_or(false)
        }
        None => false,
    };

    let mut tenant = lock(&state.tenant);
    let index = match (found, right) {
        (Some(index), true) => index,
        _ => {
            *tenant.failures.entry(key).or_insert(0) += 1;
            return Err(Box::new(oauth_error(
                StatusCode::FORBIDDEN,
                "invalid_grant",
                "Wrong email or password.",
            )));
        }
    };
    tenant.failures.remove(&key);
    let user = tenant.user_mut(index);
    if user.blocked {
        return Err(Box::new(oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "user is blocked",
        )));
    }
    if user.mfa {
        return Err(Box::new(json(
            StatusCode::FORBIDDEN,
            json!({
                "error": "mfa_required",
                "error_description": "Multifactor authentication required",
                "mfa_token": random_token(40),
            }),
        )));
    }
    user.logins_count += 1;
    let now_iso = clock::now_iso();
    user.last_login = Some(now_iso.clone());
    user.updated_at = now_iso;
    let claims = id_token_claims(state, headers, &client, user);
    drop(tenant);
    Ok(json(StatusCode::OK, user_tokens(state, fields, claims)))
}

/// The user a password-realm grant names (by email, then username), the
/// key its failures count under and its hash; refused when the realm is
/// unknown or not the client's, or the user is locked by brute-force
/// protection.
fn find_login(
    state: &AppState,
    client: &Client,
    realm: &str,
    username: &str,
) -> Result<(Option<usize>, String, Option<PasswordHash>), Box<Response>> {
    let tenant = lock(&state.tenant);
    if tenant.connection_by_name(realm).is_none() {
        return Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("Unknown realm: {realm} (no such connection in this tenant)"),
        )));
    }
    // Auth0 does not document this answer; on the older /oauth/ro it
    // was 400 invalid_request ("the connection was disabled"), and the
    // emulator answers the same way, naming the cause.
    if !client.uses(realm) {
        return Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("the connection {realm} is not enabled for this client"),
        )));
    }
    let found = tenant
        .find_by_email(realm, username)
        .or_else(|| tenant.find_by_username(realm, username));
    let key = match found {
        Some(index) => format!("user:{}", tenant.user(index).user_id()),
        None => format!("unknown:{realm}\n{}", username.to_lowercase()),
    };
    let threshold = tenant.brute_force_threshold;
    if threshold > 0 && tenant.failures.get(&key).copied().unwrap_or(0) >= threshold {
        return Err(Box::new(oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "Your account has been blocked after multiple consecutive login attempts. \
             We've sent you an email with instructions on how to unblock it.",
        )));
    }
    let hash = found.and_then(|index| tenant.user(index).password_hash.clone());
    Ok((found, key, hash))
}

/// What an id_token for `user` says.
fn id_token_claims(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    user: &crate::store::User,
) -> Value {
    let now = unix_seconds();
    json!({
        "iss": format!("{}/", state.base_for(headers)),
        "aud": client.client_id,
        "sub": user.user_id(),
        "iat": now,
        "exp": now + ID_TOKEN_LIFETIME_SECS,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
        "nickname": user.nickname,
        "picture": user.picture,
        "updated_at": user.updated_at,
    })
}

/// A password grant's answer: the id_token only for `openid`, and `scope`
/// only when the scope granted differs from the one asked (Auth0's token
/// reference), which here is when none was asked (`openid` is granted).
fn user_tokens(state: &AppState, fields: &HashMap<String, String>, claims: Value) -> Value {
    let asked = fields.get("scope").filter(|scope| !scope.is_empty());
    let scope = asked.map_or("openid", String::as_str);
    let mut body = json!({
        "access_token": random_token(32),
        "expires_in": USER_ACCESS_TOKEN_LIFETIME_SECS,
        "token_type": "Bearer",
    });
    if asked.is_none() {
        body["scope"] = Value::String(scope.to_owned());
    }
    if scope.split_whitespace().any(|s| s == "openid") {
        body["id_token"] = Value::String(state.keys.sign(&claims));
    }
    body
}

/// The client-credentials grant: the client and its audience checked, then
/// a token for a custom API of the tenant (`apis.rs`) or the Management API.
fn client_credentials(
    state: &AppState,
    headers: &HeaderMap,
    fields: &HashMap<String, String>,
) -> Response {
    let client = match authenticate(state, fields) {
        Ok(client) => client,
        Err(response) => return *response,
    };
    if !client.allows("client_credentials") {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "Grant type 'client_credentials' not allowed for the client.",
        );
    }
    let Some(audience) = fields.get("audience").filter(|a| !a.is_empty()) else {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "No audience parameter was provided, and no default audience has been configured",
        );
    };
    if let Some(answer) = crate::apis::client_credentials(state, headers, &client, audience, fields)
    {
        return answer;
    }
    management_token(state, headers, &client, audience, fields)
}

/// A Management API token: the audience one of this tenant's, the scopes
/// those asked for (all of them granted to the client), or all it has.
fn management_token(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    audience: &str,
    fields: &HashMap<String, String>,
) -> Response {
    if !state
        .management_audiences(headers)
        .iter()
        .any(|a| a == audience)
    {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            &format!("Service not enabled within domain: {audience}"),
        );
    }
    if client.scopes.is_empty() {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            &format!(
                "Client is not authorized to access \"{audience}\". \
                 You need to create a \"client-grant\" associated to this API."
            ),
        );
    }
    let scope = match scope_for(fields.get("scope"), &client.scopes) {
        Ok(scope) => scope,
        Err(missing) => {
            return oauth_error(
                StatusCode::FORBIDDEN,
                "access_denied",
                &format!("Client has not been granted scopes: {missing}"),
            )
        }
    };
    let now = unix_seconds();
    let lifetime = state.token_lifetime_secs;
    let claims = json!({
        "iss": format!("{}/", state.base_for(headers)),
        "sub": format!("{}@clients", client.client_id),
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "scope": scope,
        "gty": "client-credentials",
        "azp": client.client_id,
    });
    json(
        StatusCode::OK,
        json!({
            "access_token": state.keys.sign(&claims),
            "scope": scope,
            "expires_in": lifetime,
            "token_type": "Bearer",
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_json_and_forms_by_their_media_type_only() {
        let read = |content_type: Option<&'static str>, body: &[u8]| {
            let mut headers = HeaderMap::new();
            if let Some(content_type) = content_type {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            }
            parse_fields(&headers, body)
        };
        let RequestFields::Read(fields) = read(
            Some("application/json; charset=utf-8"),
            br#"{"grant_type":"x","n":1,"z":null}"#,
        ) else {
            panic!("json is read");
        };
        assert_eq!(fields["grant_type"], "x");
        assert_eq!(fields["n"], "1");
        assert!(!fields.contains_key("z"));
        let RequestFields::Read(fields) = read(
            Some("application/x-www-form-urlencoded"),
            b"grant_type=a%20b&username=j%40x.com",
        ) else {
            panic!("a form is read");
        };
        assert_eq!(fields["grant_type"], "a b");
        assert_eq!(fields["username"], "j@x.com");
        for body in [&b"[1]"[..], b"nope"] {
            assert!(matches!(
                read(Some("application/json"), body),
                RequestFields::Malformed
            ));
        }
        for content_type in [None, Some("text/plain"), Some("application/jsonx")] {
            assert!(matches!(
                read(content_type, br#"{"grant_type":"x"}"#),
                RequestFields::NotRead
            ));
        }
    }
}
