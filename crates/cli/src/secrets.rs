//! Which environment variable holds which tenant's client secret: one name
//! per secret. Secrets are never taken as arguments (they would show in
//! the process list and the shell's history).

use trickle_lifecycle::Secret;

/// The old tenant's client secret (the scripts' client).
pub(crate) const OLD_TENANT: &str = "TRICKLE_OLD_CLIENT_SECRET";
/// The new tenant's client secret.
pub(crate) const NEW_TENANT: &str = "TRICKLE_NEW_CLIENT_SECRET";
/// The name used before: the old tenant's secret everywhere but in `bulk
/// import`, where it held the new tenant's. Still read, with a line saying so.
const DEPRECATED: &str = "TRICKLE_CLIENT_SECRET";

/// Whose secret a command needs.
#[derive(Clone, Copy)]
pub(crate) enum Tenant {
    Old,
    New,
}

impl Tenant {
    fn variable(self) -> &'static str {
        match self {
            Tenant::Old => OLD_TENANT,
            Tenant::New => NEW_TENANT,
        }
    }

    fn whose(self) -> &'static str {
        match self {
            Tenant::Old => "the old tenant's",
            Tenant::New => "the new tenant's",
        }
    }
}

/// How a command reads a secret.
pub(crate) struct SecretRequest<'a> {
    /// The command, for the notice line (`bulk import`).
    pub command: &'a str,
    pub tenant: Tenant,
    /// The flag naming the client whose secret this is (`--new-client-id`).
    pub client_flag: &'a str,
    /// Whether `$TRICKLE_CLIENT_SECRET` may stand in, with a line on
    /// stderr: for the old tenant everywhere; for the new tenant only where
    /// it meant the new tenant's before (`bulk import`).
    pub read_deprecated: bool,
    /// `--client-secret-env`: this variable alone, nothing else.
    pub named: Option<&'a str>,
}

/// The secret, or what to set.
pub(crate) fn client_secret(request: &SecretRequest) -> Result<Secret, String> {
    if let Some(name) = request.named {
        return read(name).ok_or_else(|| missing(name, request, " (named by --client-secret-env)"));
    }
    let name = request.tenant.variable();
    if let Some(value) = read(name) {
        return Ok(value);
    }
    match read(DEPRECATED).filter(|_| request.read_deprecated) {
        Some(value) => {
            eprintln!("{}", deprecation_notice(request));
            Ok(value)
        }
        None => Err(missing(name, request, "")),
    }
}

/// The old tenant's secret, as most commands read it.
pub(crate) fn old_tenant_secret(command: &str, client_flag: &str) -> Result<Secret, String> {
    client_secret(&SecretRequest {
        command,
        tenant: Tenant::Old,
        client_flag,
        read_deprecated: true,
        named: None,
    })
}

/// The new tenant's secret, as most commands read it.
pub(crate) fn new_tenant_secret(command: &str, client_flag: &str) -> Result<Secret, String> {
    client_secret(&SecretRequest {
        command,
        tenant: Tenant::New,
        client_flag,
        read_deprecated: false,
        named: None,
    })
}

fn read(name: &str) -> Option<Secret> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .map(Secret::new)
}

fn missing(name: &str, request: &SecretRequest, how: &str) -> String {
    format!(
        "${name} is not set{how}: set it to {} client secret (the client of {}); a secret comes from the environment, never from an argument",
        request.tenant.whose(),
        request.client_flag
    )
}

/// One line: which tenant's secret the old name was taken as, and the name to use.
fn deprecation_notice(request: &SecretRequest) -> String {
    let new_name = request.tenant.variable();
    match request.tenant {
        Tenant::Old => format!(
            "trickle {}: ${DEPRECATED} is deprecated: set ${new_name} (the old tenant's client secret); read it this time",
            request.command
        ),
        Tenant::New => format!(
            "trickle {}: taking the NEW tenant's client secret from ${DEPRECATED}, a deprecated name (elsewhere it is the old tenant's): set ${new_name}",
            request.command
        ),
    }
}
