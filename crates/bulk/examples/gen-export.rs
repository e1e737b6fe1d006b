//! Writes a synthetic old-tenant export (NDJSON, as a `users-exports` job
//! with `format: json` gives it, uncompressed) to stdout, for benchmarks:
//!
//!     cargo run --release -p trickle-bulk --example gen-export -- --users 1000000 [--seed 7] > export.json
//!
//! Deterministic: the same arguments give the same bytes. About 1% of the
//! users carry the lazy-migration marker, 0.5% repeat an earlier email in
//! another case, 1% have a reserved key in app_metadata, 0.5% are blocked,
//! and one line in a thousand is not JSON.

use std::io::{self, BufWriter, Write};

/// splitmix64: tiny, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Anna", "Bruno", "Chloé", "Dmitri", "Eva", "Farid", "Greta", "Hiro", "Inès", "Jonas", "Kofi",
    "Lena", "Mateo", "Nora", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tomás", "Uma", "Viktor",
    "Wen", "Yara", "Zoë",
];
const LAST: &[&str] = &[
    "Müller",
    "Smith",
    "García",
    "Nakamura",
    "Okafor",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Silva",
    "Johansson",
    "Novak",
    "Haddad",
    "Kim",
    "O'Brien",
    "van Dijk",
    "Popescu",
    "Yilmaz",
    "Lee",
];
const DOMAINS: &[&str] = &[
    "Example.com",
    "mail.example.org",
    "EXAMPLE.net",
    "corp.example.co.uk",
    "example.io",
];
const PLANS: &[&str] = &["free", "pro", "team", "enterprise"];
const LANGS: &[&str] = &["en", "fr", "de", "ja", "pt-BR", "es"];
const REALM: &str = "Username-Password-Authentication";

fn hex(rng: &mut Rng, digits: usize) -> String {
    let mut out = String::with_capacity(digits);
    while out.len() < digits {
        out.push_str(&format!("{:016x}", rng.next()));
    }
    out.truncate(digits);
    out
}

fn date(rng: &mut Rng) -> String {
    format!(
        "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        15 + rng.below(10),
        1 + rng.below(12),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000)
    )
}

fn main() -> io::Result<()> {
    let (users, seed) = parse_args();
    let mut rng = Rng(seed);
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    // Earlier emails (the first 10,000), for the repeats in another case.
    let mut emails: Vec<String> = Vec::new();
    for n in 0..users {
        write_user(&mut out, &mut rng, n, &mut emails)?;
    }
    out.flush()
}

/// `--users N [--seed S]`, or the usage line and exit 2.
fn parse_args() -> (u64, u64) {
    let mut users = 1_000_000u64;
    let mut seed = 7u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--users", Some(v)) => users = v,
            ("--seed", Some(v)) => seed = v,
            _ => {
                eprintln!("usage: gen-export --users N [--seed S] > export.json");
                std::process::exit(2);
            }
        }
    }
    (users, seed)
}

/// One line of the export: user number `n`, or one line in a thousand cut.
fn write_user(
    out: &mut impl Write,
    rng: &mut Rng,
    n: u64,
    emails: &mut Vec<String>,
) -> io::Result<()> {
    if rng.below(1000) == 0 {
        return writeln!(out, "{{\"user_id\":\"auth0|broken-{n}\",\"email\":");
    }
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let id = hex(rng, 24);
    let email = if !emails.is_empty() && rng.below(200) == 0 {
        let earlier = &emails[rng.below(emails.len() as u64) as usize];
        earlier.to_uppercase()
    } else {
        let local: String = format!("{first}.{last}{n}")
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '.')
            .collect();
        format!("{local}@{}", rng.pick(DOMAINS))
    };
    if emails.len() < 10_000 {
        emails.push(email.clone());
    }
    let marker = if rng.below(100) == 0 {
        format!(",\"trickle_migrated_at\":\"{}\"", date(rng))
    } else {
        String::new()
    };
    let reserved = if rng.below(100) == 0 {
        format!(",\"created_at\":\"{}\"", date(rng))
    } else {
        String::new()
    };
    let blocked = if rng.below(200) == 0 {
        ",\"blocked\":true"
    } else {
        ""
    };
    let created = date(rng);
    let updated = date(rng);
    let login = date(rng);
    writeln!(
            out,
            concat!(
                "{{\"user_id\":\"auth0|{id}\",\"email\":{email},\"email_verified\":{verified},",
                "\"name\":\"{first} {last}\",\"given_name\":\"{first}\",\"family_name\":\"{last}\",",
                "\"nickname\":\"{nick}\",\"picture\":\"https://s.gravatar.com/avatar/{pic}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2F{initials}.png\",",
                "\"created_at\":\"{created}\",\"updated_at\":\"{updated}\",\"last_login\":\"{login}\",",
                "\"last_ip\":\"203.0.113.{ip}\",\"logins_count\":{logins}{blocked},",
                "\"identities\":[{{\"provider\":\"auth0\",\"connection\":\"{realm}\",\"user_id\":\"{id}\",\"isSocial\":false}}],",
                "\"app_metadata\":{{\"plan\":\"{plan}\",\"roles\":[\"user\"{admin}],\"customer_id\":{customer}{reserved}{marker}}},",
                "\"user_metadata\":{{\"lang\":\"{lang}\",\"newsletter\":{news},\"theme\":{{\"dark\":{dark},\"accent\":\"#{accent}\"}}}}}}"
            ),
            id = id,
            email = serde_json::to_string(&email).expect("strings serialize"),
            verified = rng.below(4) != 0,
            first = first,
            last = last.replace('\'', "\u{2019}"),
            nick = first.to_lowercase(),
            pic = hex(rng, 32),
            initials = first.chars().next().unwrap_or('x').to_lowercase(),
            created = created,
            updated = updated,
            login = login,
            ip = rng.below(255),
            logins = rng.below(500),
            blocked = blocked,
            realm = REALM,
            plan = rng.pick(PLANS),
            admin = if rng.below(50) == 0 { ",\"admin\"" } else { "" },
            customer = 100_000 + rng.below(900_000),
            reserved = reserved,
            marker = marker,
            lang = rng.pick(LANGS),
            news = rng.below(2) == 0,
            dark = rng.below(3) == 0,
            accent = hex(rng, 6),
        )
}
