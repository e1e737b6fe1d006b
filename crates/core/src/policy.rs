/// A profile field that a configuration may allow or leave out.
/// `user_id` and `email` are not here: every profile has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    EmailVerified,
    Username,
    Name,
    Nickname,
    GivenName,
    FamilyName,
    Picture,
    UserMetadata,
    AppMetadata,
}

impl Field {
    pub const ALL: [Field; 9] = [
        Field::EmailVerified,
        Field::Username,
        Field::Name,
        Field::Nickname,
        Field::GivenName,
        Field::FamilyName,
        Field::Picture,
        Field::UserMetadata,
        Field::AppMetadata,
    ];

    /// The name used in configuration files (the Management API's name).
    pub const fn name(self) -> &'static str {
        match self {
            Field::EmailVerified => "email_verified",
            Field::Username => "username",
            Field::Name => "name",
            Field::Nickname => "nickname",
            Field::GivenName => "given_name",
            Field::FamilyName => "family_name",
            Field::Picture => "picture",
            Field::UserMetadata => "user_metadata",
            Field::AppMetadata => "app_metadata",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.name() == name)
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// A set of [`Field`]s: the profile allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSet(u32);

impl FieldSet {
    const MASK: u32 = (1 << Field::ALL.len()) - 1;

    pub const fn all() -> Self {
        FieldSet(Self::MASK)
    }
    pub const fn empty() -> Self {
        FieldSet(0)
    }
    pub const fn with(self, field: Field) -> Self {
        FieldSet(self.0 | field.bit())
    }
    pub const fn contains(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }
}

impl FromIterator<Field> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Field>>(fields: I) -> Self {
        fields.into_iter().fold(FieldSet::empty(), FieldSet::with)
    }
}

/// Under which key a profile carries the old user's `app_metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppMetadataKey {
    /// `metadata`: what the custom-database seed guidance asks for.
    Metadata,
    /// `app_metadata`: what newer templates return.
    AppMetadata,
}

impl AppMetadataKey {
    pub const fn name(self) -> &'static str {
        match self {
            AppMetadataKey::Metadata => "metadata",
            AppMetadataKey::AppMetadata => "app_metadata",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [AppMetadataKey::Metadata, AppMetadataKey::AppMetadata]
            .into_iter()
            .find(|key| key.name() == name)
    }
}

/// What the migration does with a source user, as the configuration says.
///
/// It travels into the generated scripts as one number ([`Policy::encode`]),
/// so the WASM needs no deserializer for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub fields: FieldSet,
    pub app_metadata_key: AppMetadataKey,
    /// Users carrying the migration marker count as absent.
    pub skip_marked: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fields: FieldSet::all(),
            app_metadata_key: AppMetadataKey::Metadata,
            skip_marked: true,
        }
    }
}

const APP_METADATA_KEY_BIT: u32 = 1 << 16;
const SKIP_MARKED_BIT: u32 = 1 << 17;

impl Policy {
    pub const fn encode(self) -> u32 {
        let mut bits = self.fields.0;
        if let AppMetadataKey::AppMetadata = self.app_metadata_key {
            bits |= APP_METADATA_KEY_BIT;
        }
        if self.skip_marked {
            bits |= SKIP_MARKED_BIT;
        }
        bits
    }

    /// The inverse of [`Policy::encode`]; unknown bits are ignored.
    pub const fn decode(bits: u32) -> Self {
        Policy {
            fields: FieldSet(bits & FieldSet::MASK),
            app_metadata_key: if bits & APP_METADATA_KEY_BIT != 0 {
                AppMetadataKey::AppMetadata
            } else {
                AppMetadataKey::Metadata
            },
            skip_marked: bits & SKIP_MARKED_BIT != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_survives_encoding() {
        for fields in [
            FieldSet::all(),
            FieldSet::empty(),
            FieldSet::empty().with(Field::Picture),
        ] {
            for key in [AppMetadataKey::Metadata, AppMetadataKey::AppMetadata] {
                for skip_marked in [true, false] {
                    let policy = Policy {
                        fields,
                        app_metadata_key: key,
                        skip_marked,
                    };
                    assert_eq!(Policy::decode(policy.encode()), policy);
                }
            }
        }
    }

    #[test]
    fn field_names_round_trip_and_unknown_names_are_refused() {
        for field in Field::ALL {
            assert_eq!(Field::from_name(field.name()), Some(field));
        }
        assert_eq!(Field::from_name("user_id"), None);
        assert_eq!(Field::from_name("identities"), None);
        assert_eq!(Field::from_name("Name"), None);
    }

    #[test]
    fn field_set_holds_exactly_what_was_added() {
        let set: FieldSet = [Field::Name, Field::UserMetadata].into_iter().collect();
        assert!(set.contains(Field::Name));
        assert!(set.contains(Field::UserMetadata));
        assert!(!set.contains(Field::Picture));
        assert!(Field::ALL.into_iter().all(|f| FieldSet::all().contains(f)));
    }
}
