//! HTTPS for the emulators: a local certificate authority (made once, or
//! kept in a folder so clients trust it across runs) and a server
//! certificate for `localhost`, `127.0.0.1` and `::1` made at every start,
//! served with rustls (`ring`: it builds with a C compiler and nothing else).
//!
//! The authority is name-constrained to those loopback names: trusting it
//! (`NODE_EXTRA_CA_CERTS`) lets nobody who reads its key impersonate any
//! other host.

use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// The authority's certificate (what clients trust) in a TLS folder.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The authority's private key (PKCS#8 PEM, mode 0600) in a TLS folder.
pub const CA_KEY_FILE: &str = "ca-key.pem";

const CA_NAME: &str = "trickle emulator local CA (loopback only, test use)";

/// Where the certificate authority lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// A folder holding (or to hold) [`CA_CERT_FILE`] and [`CA_KEY_FILE`]:
    /// made on first use, reused after, so clients trust one file across
    /// runs. `None`: a new authority in a temporary folder, removed when
    /// the emulator stops.
    pub dir: Option<PathBuf>,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot use the TLS folder {}: {source}", path.display())]
    Folder { path: PathBuf, source: io::Error },
    #[error("{} is not a key this emulator made: {message}", path.display())]
    BadKey { path: PathBuf, message: String },
    #[error("cannot make the TLS certificates: {0}")]
    Certificate(String),
}

/// What an HTTPS emulator serves with, and what its clients must trust.
pub struct Tls {
    acceptor: TlsAcceptor,
    ca_cert_path: PathBuf,
    ca_cert_pem: String,
    /// A temporary folder, removed with this value.
    _temporary: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("ca_cert_path", &self.ca_cert_path)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads or makes the authority, then makes a server certificate.
    pub fn prepare(options: &TlsOptions) -> Result<Tls, TlsError> {
        let (dir, temporary) = match &options.dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temporary = tempfile::Builder::new()
                    .prefix("trickle-tls-")
                    .tempdir()
                    .map_err(|source| TlsError::Folder {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                (temporary.path().to_path_buf(), Some(temporary))
            }
        };
        let folder = |source: io::Error| TlsError::Folder {
            path: dir.clone(),
            source,
        };
        fs::create_dir_all(&dir).map_err(folder)?;
        let ca_key = load_or_make_ca_key(&dir)?;
        let ca_params = ca_params();
        let ca_cert_path = dir.join(CA_CERT_FILE);
        let ca_cert_pem = match fs::read_to_string(&ca_cert_path) {
            // Made from this key before (its name and key are what a client
            // checks; another run's copy is as good).
            Ok(pem) if pem.contains("BEGIN CERTIFICATE") => pem,
            _ => {
                let pem = ca_params.self_signed(&ca_key).map_err(certificate)?.pem();
                write_atomically(&dir, CA_CERT_FILE, pem.as_bytes(), false).map_err(folder)?;
                pem
            }
        };
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().map_err(certificate)?;
        let server_cert = server_params()
            .signed_by(&server_key, &issuer)
            .map_err(certificate)?;
        let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsError::Certificate(error.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|error| TlsError::Certificate(error.to_string()))?;
        // The serve loop speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ca_cert_path,
            ca_cert_pem,
            _temporary: temporary,
        })
    }

    /// The authority's certificate file: what clients trust
    /// (`NODE_EXTRA_CA_CERTS=…`, `curl --cacert …`).
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert_path
    }

    /// The authority's certificate, PEM.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }
}

fn certificate(error: rcgen::Error) -> TlsError {
    TlsError::Certificate(error.to_string())
}

/// The names every server certificate carries, and the only ones the
/// authority may vouch for.
fn loopback_ips() -> [IpAddr; 2] {
    [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ]
}

/// The authority, the same from the same key every time (its name, key
/// identifier and constraints are what a client checks the server
/// certificate against), so one trusted copy serves every run.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_NAME);
    name.push(DnType::OrganizationName, "trickle");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    params.serial_number = Some(SerialNumber::from_slice(&[0x7c, 0x1a]));
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".to_owned()),
            GeneralSubtree::IpAddress(CidrSubnet::from_v4_prefix([127, 0, 0, 0], 8)),
            GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                128,
            )),
        ],
        excluded_subtrees: Vec::new(),
    });
    params
}

/// The server certificate: loopback names, a month of validity (a new one
/// is made at every start).
fn server_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "localhost");
    params.distinguished_name = name;
    params.subject_alt_names = std::iter::once(SanType::DnsName(
        "localhost".try_into().expect("an IA5 string"),
    ))
    .chain(loopback_ips().into_iter().map(SanType::IpAddress))
    .collect();
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(30);
    params
}

/// The key in `dir`, or a new one written there. Two emulators starting at
/// once on one empty folder agree: the key is linked into place only if
/// none is there, and then whichever is there is used.
fn load_or_make_ca_key(dir: &Path) -> Result<KeyPair, TlsError> {
    let path = dir.join(CA_KEY_FILE);
    let folder = |source: io::Error| TlsError::Folder {
        path: dir.to_path_buf(),
        source,
    };
    if !path.exists() {
        let key = KeyPair::generate().map_err(certificate)?;
        match write_atomically(dir, CA_KEY_FILE, key.serialize_pem().as_bytes(), true) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(folder(error)),
        }
    }
    let pem = fs::read_to_string(&path).map_err(folder)?;
    KeyPair::from_pem(&pem).map_err(|error| TlsError::BadKey {
        path,
        message: error.to_string(),
    })
}

/// Writes `name` in `dir` whole or not at all; `secret`: readable by the
/// owner only, and never over an existing file.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8], secret: bool) -> io::Result<()> {
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(unix)]
    if !secret {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))?;
    }
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    let target = dir.join(name);
    if secret {
        file.persist_noclobber(&target)
            .map_err(|error| error.error)?;
    } else {
        file.persist(&target).map_err(|error| error.error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_keeps_one_authority_across_starts() {
        let dir = tempfile::tempdir().unwrap();
        let options = TlsOptions {
            dir: Some(dir.path().join("tls")),
        };
        let first = Tls::prepare(&options).unwrap();
        let key = fs::read_to_string(dir.path().join("tls").join(CA_KEY_FILE)).unwrap();
        let second = Tls::prepare(&options).unwrap();
        assert_eq!(first.ca_cert_pem(), second.ca_cert_pem());
        assert_eq!(
            key,
            fs::read_to_string(dir.path().join("tls").join(CA_KEY_FILE)).unwrap()
        );
        assert_eq!(
            first.ca_cert_path(),
            dir.path().join("tls").join(CA_CERT_FILE)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("tls").join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the key is the owner's alone");
        }
    }

    #[test]
    fn without_a_folder_the_authority_goes_with_the_emulator() {
        let tls = Tls::prepare(&TlsOptions::default()).unwrap();
        let path = tls.ca_cert_path().to_path_buf();
        assert!(path.exists());
        assert!(tls.ca_cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        drop(tls);
        assert!(!path.exists(), "the temporary authority is removed");
    }

    /// Whoever holds the key can sign for any name, but clients that
    /// trust the authority accept loopback names only.
    #[test]
    fn the_authority_vouches_for_loopback_names_only() {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{ServerName, UnixTime};

        let dir = tempfile::tempdir().unwrap();
        let key = load_or_make_ca_key(dir.path()).unwrap();
        let ca = ca_params().self_signed(&key).unwrap();
        let issuer = Issuer::new(ca_params(), key);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let verify = |names: Vec<String>, name: &str| {
            let leaf_key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.use_authority_key_identifier_extension = true;
            let leaf = params.signed_by(&leaf_key, &issuer).unwrap();
            verifier.verify_server_cert(
                leaf.der(),
                &[],
                &ServerName::try_from(name.to_owned()).unwrap(),
                &[],
                UnixTime::now(),
            )
        };
        assert!(verify(vec!["localhost".into()], "localhost").is_ok());
        assert!(verify(vec!["127.0.0.1".into()], "127.0.0.1").is_ok());
        assert!(verify(vec!["127.8.9.10".into()], "127.8.9.10").is_ok());
        for name in ["example.com", "10.0.0.1", "localhost.example.com"] {
            assert!(
                verify(vec![name.into()], name).is_err(),
                "{name} must be outside the authority's names"
            );
        }
    }

    #[test]
    fn a_key_that_is_not_a_key_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CA_KEY_FILE), "not a key").unwrap();
        let error = Tls::prepare(&TlsOptions {
            dir: Some(dir.path().to_path_buf()),
        })
        .unwrap_err();
        assert!(
            matches!(error, TlsError::BadKey { .. }),
            "{error}: a broken key is never silently replaced"
        );
        assert!(error.to_string().contains(CA_KEY_FILE), "{error}");
    }
}
