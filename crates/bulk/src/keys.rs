//! Compact sets of user keys (emails, usernames, raw ids) for duplicate detection and
//! exclusion: the 64-bit XXH3 of each key instead of the key itself, so a
//! million users cost about 9 MB, not hundreds.
//!
//! Two different keys share a hash with probability about n²/2⁶⁵ over n
//! keys (about 3·10⁻⁸ for a million): such a user would be reported (as a
//! duplicate, or as already in the new tenant) with its line and email,
//! never silently dropped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use trickle_core::{email_key, to_lowercase};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// The hash of a key. Seeds keep the id and email spaces apart.
pub(crate) fn key_hash(seed: u64, key: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(key.as_bytes(), seed)
}

pub(crate) const EMAIL_SEED: u64 = 0x656d_6169_6c00_0001;
pub(crate) const ID_SEED: u64 = 0x7573_6572_6964_0002;
pub(crate) const USERNAME_SEED: u64 = 0x7573_6572_6e61_0003;

/// The key two emails are the same user by, for the import: the core's
/// lower-casing, then Unicode NFC, so `josé` typed composed and decomposed
/// (`e` + U+0301) is one address. (NFC lives here, not in the core: the
/// core ships in the scripts' WASM, where its tables would cost bytes.)
/// Borrowed when the email is its own key, as nearly all are.
pub(crate) fn email_identity(email: &str) -> Cow<'_, str> {
    let lower = if email
        .bytes()
        .any(|b| !b.is_ascii() || b.is_ascii_uppercase())
    {
        Cow::Owned(email_key(email))
    } else {
        Cow::Borrowed(email)
    };
    nfc(lower)
}

/// The key two usernames are the same by, as for emails: the core's
/// lower-casing, then Unicode NFC (`josé` composed and decomposed is one name).
pub(crate) fn username_identity(username: &str) -> Cow<'_, str> {
    let lower = if username
        .bytes()
        .any(|b| !b.is_ascii() || b.is_ascii_uppercase())
    {
        Cow::Owned(to_lowercase(username))
    } else {
        Cow::Borrowed(username)
    };
    nfc(lower)
}

fn nfc(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.is_ascii() || is_nfc_quick(text.chars()) == IsNormalized::Yes {
        text
    } else {
        Cow::Owned(text.nfc().collect())
    }
}

/// The keys are already uniform hashes: hashing them again would only cost time.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else in for completeness.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// A set of keys, about 9 bytes each: the 64-bit hashes, kept sorted in
/// 4,096 buckets chosen by their top bits, each grown by an eighth at a time
/// (a hash table would need 17 to 28 bytes a key at its load factor and
/// while it doubles).
pub(crate) struct KeySet {
    seed: u64,
    buckets: Vec<Vec<u64>>,
    len: usize,
}

const BUCKET_BITS: u32 = 12;

impl KeySet {
    pub(crate) fn new(seed: u64) -> Self {
        KeySet {
            seed,
            buckets: vec![Vec::new(); 1 << BUCKET_BITS],
            len: 0,
        }
    }

    fn bucket(&self, hash: u64) -> usize {
        (hash >> (64 - BUCKET_BITS)) as usize
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        let hash = key_hash(self.seed, key);
        self.buckets[self.bucket(hash)].binary_search(&hash).is_ok()
    }

    /// Adds `key`; false when it was there already.
    pub(crate) fn insert(&mut self, key: &str) -> bool {
        let hash = key_hash(self.seed, key);
        let index = self.bucket(hash);
        let bucket = &mut self.buckets[index];
        match bucket.binary_search(&hash) {
            Ok(_) => false,
            Err(at) => {
                if bucket.len() == bucket.capacity() {
                    bucket.reserve_exact(bucket.len() / 8 + 8);
                }
                bucket.insert(at, hash);
                self.len += 1;
                true
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Key hash → a value (an index).
pub(crate) struct KeyMap {
    seed: u64,
    map: HashMap<u64, u64, BuildHasherDefault<PassThrough>>,
}

impl KeyMap {
    pub(crate) fn new(seed: u64) -> Self {
        KeyMap {
            seed,
            map: HashMap::default(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<u64> {
        self.map.get(&key_hash(self.seed, key)).copied()
    }

    /// Records `key` with `value` unless present; returns the earlier value.
    pub(crate) fn insert_first(&mut self, key: &str, value: u64) -> Option<u64> {
        match self.map.entry(key_hash(self.seed, key)) {
            std::collections::hash_map::Entry::Occupied(entry) => Some(*entry.get()),
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(value);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_spaces_are_apart() {
        let mut emails = KeyMap::new(EMAIL_SEED);
        assert_eq!(emails.insert_first("a@x.com", 1), None);
        assert_eq!(emails.insert_first("a@x.com", 7), Some(1));
        assert_eq!(emails.get("a@x.com"), Some(1));
        assert_eq!(emails.get("b@x.com"), None);
        let mut set = KeySet::new(EMAIL_SEED);
        assert!(set.insert("a@x.com"));
        assert!(!set.insert("a@x.com"));
        assert!(set.contains("a@x.com") && !set.contains("b@x.com"));
        assert_eq!(set.len(), 1);
        for n in 0..100_000 {
            assert!(set.insert(&format!("user{n}@x.com")));
        }
        assert_eq!(set.len(), 100_001);
        assert!((0..100_000).all(|n| set.contains(&format!("user{n}@x.com"))));
        assert!(!set.contains("user100000@x.com"));
        assert_ne!(key_hash(EMAIL_SEED, "abc"), key_hash(ID_SEED, "abc"));
    }

    #[test]
    fn emails_are_one_key_whatever_their_case_and_normal_form() {
        let composed = email_identity("Jos\u{e9}@X.com");
        assert_eq!(composed, "jos\u{e9}@x.com");
        assert_eq!(email_identity("JOSE\u{301}@x.COM"), composed);
        assert_ne!(email_identity("jose@x.com"), composed);
    }

    #[test]
    fn usernames_are_one_key_whatever_their_case_and_normal_form() {
        assert_eq!(username_identity("Ann"), username_identity("aNN"));
        let composed = username_identity("Jos\u{e9}");
        assert_eq!(composed, "jos\u{e9}");
        assert_eq!(username_identity("JOSE\u{301}"), composed);
        assert_ne!(username_identity("jose"), composed);
        // The one lower-casing (std's, final sigma included), as for emails.
        assert_eq!(username_identity("ΟΔΟΣ"), "οδος");
    }
}
