//! Secrets: the web APIs' access tokens (kept as SHA-256 digests, as the
//! real server is configured) and the random tokens and secrets the server
//! makes.

use sha2::{Digest, Sha256};

/// One web API's access tokens, kept as SHA-256 digests (as the real server
/// is configured: `…apiAccessTokenSHA256`, extra ones for roll-over).
#[derive(Clone, Default)]
pub struct TokenDigests(Vec<[u8; 32]>);

impl TokenDigests {
    /// No token: the API is disabled.
    pub fn is_disabled(&self) -> bool {
        self.0.is_empty()
    }

    pub fn accepts(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.0.contains(&digest)
    }

    /// Accepts `token` too (only its digest is kept).
    pub fn add(&mut self, token: &str) {
        self.0.push(Sha256::digest(token.as_bytes()).into());
    }
}

/// The three web APIs' tokens.
#[derive(Clone, Default)]
pub struct ApiTokens {
    pub client_registration: TokenDigests,
    pub authz_store: TokenDigests,
    pub session_store: TokenDigests,
}

/// A new random token or secret: 43 letters and digits (about 256 bits).
pub fn random_token(rng: &mut fastrand::Rng) -> Box<str> {
    (0..43)
        .map(|_| rng.alphanumeric())
        .collect::<String>()
        .into()
}
