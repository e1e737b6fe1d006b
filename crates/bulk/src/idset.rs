//! A compact set of user ids for other crates (`trickle status --exact`
//! checks each old-tenant user against the new tenant's ids): the same
//! 64-bit hashes as the plan's duplicate sets, about 9 bytes an id.

use crate::keys::{KeySet, ID_SEED};

/// Raw user ids (no `auth0|`), hashed: two ids share a hash with odds of
/// about 3·10⁻⁸ over a million (such a user would count as found).
pub struct IdSet(KeySet);

impl IdSet {
    pub fn new() -> IdSet {
        IdSet(KeySet::new(ID_SEED))
    }

    /// Adds `id`; false when it was there already.
    pub fn insert(&mut self, id: &str) -> bool {
        self.0.insert(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.0.contains(id)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }
}

impl Default for IdSet {
    fn default() -> IdSet {
        IdSet::new()
    }
}
