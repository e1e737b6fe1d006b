//! The tenant's signing key: RS256 tokens, their verification, and the JWKS.
//!
//! `emulator_key.pem` is a FIXED RSA-2048 key made for this emulator and
//! published with its source. It is NOT a secret and protects nothing: it
//! only lets the emulator start instantly and sign tokens that clients can
//! verify against its JWKS. Never use it for anything real.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::{Digest, Sha256};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// The emulator's published, non-secret test key (see the module comment).
const EMULATOR_KEY_PEM: &str = include_str!("emulator_key.pem");
/// The key id in every token header and in the JWKS.
pub const KEY_ID: &str = "trickle-sim-emulator-key-1";

pub struct Keys {
    /// Parsed once: RS256 signing is the emulator's hottest path.
    private: RsaPrivateKey,
    decoding: DecodingKey,
    n: String,
    e: String,
}

/// Why a bearer token was refused, worded as Auth0 words it.
#[derive(Debug)]
pub enum TokenProblem {
    Expired,
    BadSignature,
    BadAudience,
    Malformed,
}

impl TokenProblem {
    pub fn message(&self) -> &'static str {
        match self {
            TokenProblem::Expired => "Expired token received for JSON Web Token validation",
            TokenProblem::BadSignature => {
                "Invalid signature received for JSON Web Token validation"
            }
            TokenProblem::BadAudience => "Bad audience",
            TokenProblem::Malformed => "Invalid token",
        }
    }
}

impl Keys {
    pub fn load() -> Keys {
        let private =
            RsaPrivateKey::from_pkcs8_pem(EMULATOR_KEY_PEM).expect("the shipped key is valid");
        let b64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
        let n = b64(private.n().to_bytes_be());
        let e = b64(private.e().to_bytes_be());
        let decoding = DecodingKey::from_rsa_components(&n, &e).expect("valid components");
        Keys {
            private,
            decoding,
            n,
            e,
        }
    }

    /// An RS256 JWT (`{"alg":"RS256","typ":"JWT","kid":…}`) over `claims`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": KEY_ID});
        let payload = serde_json::to_vec(claims).expect("claims are plain data");
        let mut token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let digest = Sha256::digest(token.as_bytes());
        // Unblinded PKCS#1 v1.5: timing side channels do not matter for a
        // key that is public anyway, and blinding costs time.
        let signature = self
            .private
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .expect("RS256 signing");
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        token
    }

    /// Checks signature, expiry (no leeway) and audience.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<T, TokenProblem> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 0;
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "aud"]);
        jsonwebtoken::decode::<T>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                match error.kind() {
                    ErrorKind::ExpiredSignature => TokenProblem::Expired,
                    ErrorKind::InvalidSignature => TokenProblem::BadSignature,
                    ErrorKind::InvalidAudience => TokenProblem::BadAudience,
                    _ => TokenProblem::Malformed,
                }
            })
    }

    /// `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        json!({
            "keys": [{
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": KEY_ID,
                "n": self.n,
                "e": self.e,
            }]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize)]
    struct Claims {
        aud: String,
        exp: u64,
        sub: String,
    }

    #[test]
    fn signs_and_verifies_and_refuses() {
        let keys = Keys::load();
        let now = crate::clock::unix_seconds();
        let token = keys.sign(&Claims {
            aud: "a".into(),
            exp: now + 60,
            sub: "s".into(),
        });
        let claims: Claims = keys.verify(&token, &["a".to_owned()]).expect("valid");
        assert_eq!(claims.sub, "s");
        assert!(matches!(
            keys.verify::<Claims>(&token, &["b".to_owned()]),
            Err(TokenProblem::BadAudience)
        ));
        let expired = keys.sign(&Claims {
            aud: "a".into(),
            exp: now - 5,
            sub: "s".into(),
        });
        assert!(matches!(
            keys.verify::<Claims>(&expired, &["a".to_owned()]),
            Err(TokenProblem::Expired)
        ));
        let mut tampered: Vec<char> = token.chars().collect();
        let at = tampered.len() - 20;
        tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
        let tampered: String = tampered.into_iter().collect();
        assert!(matches!(
            keys.verify::<Claims>(&tampered, &["a".to_owned()]),
            Err(TokenProblem::BadSignature)
        ));
        assert!(matches!(
            keys.verify::<Claims>("nonsense", &["a".to_owned()]),
            Err(TokenProblem::Malformed)
        ));
        assert_eq!(keys.jwks()["keys"][0]["e"], "AQAB");
    }
}
