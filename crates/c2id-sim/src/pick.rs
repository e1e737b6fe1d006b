//! A record at random from an ordered map, without walking it (the store
//! may hold a million): the key is chosen one character at a time, each
//! uniformly among the characters that keys sharing the ones chosen so far
//! have next (drawn and checked by a tree look-up, not listed). Dense keys
//! (`client-000123`) and random ones (SIDs) come out near uniform in a few
//! tree look-ups per character; the choice depends only on the map and the
//! random stream, so a seed replays it.

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included, Unbounded};

/// The deepest descent (then the smallest key left is taken).
const MAX_DEPTH: usize = 300;
/// Random characters tried at one level before listing the ones there.
const DRAWS: usize = 16;
/// Next characters looked for at one level (more: the first ones only).
const MAX_BRANCHES: usize = 256;
/// Keys sharing one text (one subject's authorisations) picked among.
const SAME_TEXT: usize = 64;

/// A key of `map` at random; `text` is the part of a key the descent reads
/// (the whole ID, or an authorisation's subject) and `key_at` the smallest
/// key with a given text.
pub fn pick<'m, K: Ord, V>(
    map: &'m BTreeMap<K, V>,
    rng: &mut fastrand::Rng,
    text: impl Fn(&K) -> &str,
    key_at: impl Fn(&str) -> K,
) -> Option<&'m K> {
    let mut prefix = String::new();
    for _ in 0..MAX_DEPTH {
        let upper = successor(&prefix).map_or(Unbounded, |s| Excluded(key_at(&s)));
        let mut range = map.range((Included(key_at(&prefix)), upper));
        let lo = text(range.next()?.0);
        let hi = range.next_back().map_or(lo, |(k, _)| text(k));
        if lo == hi {
            return one_of_text(map, rng, lo, &key_at);
        }
        // Every key here shares lo's and hi's common prefix: skip to it.
        prefix = common_prefix(lo, hi).to_owned();
        // Codes: 0 for "the text ends here", else the character's plus one.
        let code = |t: &str| {
            t[prefix.len()..]
                .chars()
                .next()
                .map_or(0, |c| u32::from(c) + 1)
        };
        let (from, to) = (code(lo), code(hi));
        match random_branch(map, rng, &prefix, (from, to), &text, &key_at) {
            None => return one_of_text(map, rng, &prefix, &key_at),
            Some(c) => prefix.push(c),
        }
    }
    map.keys().next()
}

/// One of the characters keys starting with `prefix` have next (`None`:
/// a key's text ends there), uniformly: codes drawn between the first and
/// the last key's (`codes`: 0 for none, else the character's plus one)
/// until one is there, one look-up each (dense alphabets such as digits
/// or base64url hit at once); for a sparse alphabet, one of them all,
/// listed.
fn random_branch<K: Ord, V>(
    map: &BTreeMap<K, V>,
    rng: &mut fastrand::Rng,
    prefix: &str,
    (from, to): (u32, u32),
    text: impl Fn(&K) -> &str,
    key_at: impl Fn(&str) -> K,
) -> Option<char> {
    for _ in 0..DRAWS {
        let code = rng.u32(from..=to);
        if code == 0 {
            return None; // from is 0 only when a key's text is the prefix
        }
        let Some(c) = char::from_u32(code - 1) else {
            continue;
        };
        let probe = format!("{prefix}{c}");
        let found = map.range((Included(key_at(&probe)), Unbounded)).next();
        if found.is_some_and(|(k, _)| text(k).starts_with(&probe)) {
            return Some(c);
        }
    }
    let branches = next_chars(map, prefix, &text, &key_at);
    branches[rng.usize(..branches.len())]
}

fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let shared: usize = a
        .chars()
        .zip(b.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum();
    &a[..shared]
}

/// The characters keys starting with `prefix` have next (`None`: a key's
/// text ends there), in order.
fn next_chars<K: Ord, V>(
    map: &BTreeMap<K, V>,
    prefix: &str,
    text: impl Fn(&K) -> &str,
    key_at: impl Fn(&str) -> K,
) -> Vec<Option<char>> {
    let mut branches = Vec::new();
    let mut probe = prefix.to_owned();
    while branches.len() < MAX_BRANCHES {
        let Some((key, _)) = map.range((Included(key_at(&probe)), Unbounded)).next() else {
            break;
        };
        let Some(rest) = text(key).strip_prefix(prefix) else {
            break;
        };
        let next = rest.chars().next();
        branches.push(next);
        let Some(after) = next.and_then(|c| successor(&format!("{prefix}{c}"))) else {
            // After the key equal to the prefix comes the smallest longer one.
            if next.is_none() {
                probe = format!("{prefix}\0");
                continue;
            }
            break;
        };
        probe = after;
    }
    branches
}

/// The smallest string greater than every string starting with `prefix`
/// (`None`: there is none, every string above it starts with it).
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while chars.last() == Some(&char::MAX) {
        chars.pop();
    }
    let last = chars.pop()?;
    let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

/// One of the keys whose text is exactly `text`, uniformly (the first
/// [`SAME_TEXT`] of them).
fn one_of_text<'m, K: Ord, V>(
    map: &'m BTreeMap<K, V>,
    rng: &mut fastrand::Rng,
    text: &str,
    key_at: impl Fn(&str) -> K,
) -> Option<&'m K> {
    let next = format!("{text}\0");
    let same: Vec<&K> = map
        .range((Included(key_at(text)), Excluded(key_at(&next))))
        .take(SAME_TEXT)
        .map(|(k, _)| k)
        .collect();
    (!same.is_empty()).then(|| same[rng.usize(..same.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> BTreeMap<Box<str>, ()> {
        (0..n)
            .map(|i| (format!("client-{i:06}").into(), ()))
            .collect()
    }

    fn pick_id<'m>(map: &'m BTreeMap<Box<str>, ()>, rng: &mut fastrand::Rng) -> &'m str {
        pick(map, rng, |k| k, |t| t.into()).expect("a key")
    }

    #[test]
    fn dense_keys_are_picked_near_uniformly() {
        let map = ids(1000);
        let mut rng = fastrand::Rng::with_seed(1);
        let mut hits = BTreeMap::new();
        for _ in 0..10_000 {
            *hits.entry(pick_id(&map, &mut rng)).or_insert(0u32) += 1;
        }
        // 10 per key on average: every key is reached, none dominates.
        assert!(hits.len() > 990, "{} keys reached", hits.len());
        assert!(hits.values().all(|&n| n < 40), "{:?}", hits.values().max());
    }

    #[test]
    fn odd_maps_still_give_a_key() {
        let mut rng = fastrand::Rng::with_seed(2);
        let empty: BTreeMap<Box<str>, ()> = BTreeMap::new();
        assert!(pick(&empty, &mut rng, |k| k, |t| t.into()).is_none());
        let one = ids(1);
        assert_eq!(pick_id(&one, &mut rng), "client-000000");
        // A key that is a prefix of another, empty and non-ASCII keys.
        let map: BTreeMap<Box<str>, ()> = ["", "\0", "a", "a\0", "ab", "abc", "é", "\u{10FFFF}"]
            .into_iter()
            .map(|k| (k.into(), ()))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            seen.insert(pick_id(&map, &mut rng));
        }
        assert_eq!(seen.len(), 8, "{seen:?}");
    }

    #[test]
    fn keys_sharing_a_text_are_picked_among() {
        let map: BTreeMap<(Box<str>, Box<str>), ()> =
            [("alice", "a"), ("alice", "b"), ("bob", "a")]
                .into_iter()
                .map(|(s, c)| ((s.into(), c.into()), ()))
                .collect();
        let mut rng = fastrand::Rng::with_seed(3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..300 {
            let key = pick(&map, &mut rng, |k| &k.0, |t| (t.into(), "".into())).unwrap();
            seen.insert(key.clone());
        }
        assert_eq!(seen.len(), 3);
    }
}
