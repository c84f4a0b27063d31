//! exporter-toolkit's web configuration file (`--web.config.file`), so
//! the exporter is secured the way every Prometheus exporter is:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: /etc/procscope/tls.crt
//!   key_file: /etc/procscope/tls.key
//!   min_version: TLS12            # or TLS13
//! basic_auth_users:
//!   prometheus: $2y$10$…          # bcrypt (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! Unknown keys are refused (a typo must not leave the exporter open).

use base64::Engine;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What can be wrong with a web config.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {err}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// Not the expected YAML.
    #[error("{0}")]
    Yaml(String),
    /// The certificate or key could not be used.
    #[error("TLS: {0}")]
    Tls(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tls_server_config: Option<TlsSpec>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSpec {
    cert_file: PathBuf,
    key_file: PathBuf,
    #[serde(default)]
    min_version: Option<String>,
}

/// The highest bcrypt cost accepted.
pub const MAX_COST: u32 = 16;

/// A parsed web config.
#[derive(Clone)]
pub struct WebConfig {
    /// TLS, when configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Basic auth, when users are configured.
    pub auth: Option<Auth>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("auth", &self.auth.as_ref().map(|a| a.users.len()))
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks a web config file; relative certificate paths are
    /// relative to the file's directory (as exporter-toolkit does).
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| WebConfigError::Read {
            path: path.to_owned(),
            err,
        })?;
        let f: File = serde_yaml_ng::from_str(&text)
            .map_err(|e| WebConfigError::Yaml(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let tls = match f.tls_server_config {
            Some(t) => Some(Arc::new(tls_config(
                &base.join(&t.cert_file),
                &base.join(&t.key_file),
                t.min_version.as_deref(),
            )?)),
            None => None,
        };
        for (user, hash) in &f.basic_auth_users {
            let parts: Result<bcrypt::HashParts, _> = hash.parse();
            match parts {
                Err(_) => {
                    return Err(WebConfigError::Yaml(format!(
                        "basic_auth_users.{user}: not a bcrypt hash (make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n')"
                    )));
                }
                // Each step doubles the work: cost 20 is about a minute per
                // check, and a scrape would never be let in.
                Ok(p) if p.get_cost() > MAX_COST => {
                    return Err(WebConfigError::Yaml(format!(
                        "basic_auth_users.{user}: bcrypt cost {} is too slow to check (at most {MAX_COST}; 10 is usual)",
                        p.get_cost()
                    )));
                }
                Ok(_) => {}
            }
        }
        let auth = match f.basic_auth_users.values().next() {
            None => None,
            Some(first) => {
                // Unknown users are checked against a hash of the same
                // cost, so the answer takes as long as for a known one.
                let cost = first
                    .get(4..6)
                    .and_then(|c| c.parse::<u32>().ok())
                    .unwrap_or(bcrypt::DEFAULT_COST);
                let dummy = bcrypt::hash(b"procscope: no such user", cost)
                    .map_err(|e| WebConfigError::Yaml(format!("basic_auth_users: {e}")))?;
                Some(Auth {
                    users: f.basic_auth_users.into_iter().collect(),
                    dummy,
                    cache: Arc::new(Mutex::new(HashMap::new())),
                    hasher: std::collections::hash_map::RandomState::new(),
                })
            }
        };
        Ok(WebConfig { tls, auth })
    }
}

fn tls_config(
    cert: &Path,
    key: &Path,
    min_version: Option<&str>,
) -> Result<rustls::ServerConfig, WebConfigError> {
    // Regular files only: a FIFO in place of a key would hang the start.
    let read = |p: &Path| {
        let e = |err| WebConfigError::Read {
            path: p.to_owned(),
            err,
        };
        let md = std::fs::metadata(p).map_err(e)?;
        if !md.is_file() {
            return Err(WebConfigError::Tls(format!(
                "{}: not a regular file",
                p.display()
            )));
        }
        std::fs::read(p).map_err(|err| WebConfigError::Read {
            path: p.to_owned(),
            err,
        })
    };
    let certs: Vec<rustls::pki_types::CertificateDer<'static>> =
        rustls_pemfile::certs(&mut read(cert)?.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| WebConfigError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(WebConfigError::Tls(format!(
            "{}: no certificate in it",
            cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| WebConfigError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| WebConfigError::Tls(format!("{}: no private key in it", key.display())))?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = match min_version {
        None | Some("TLS12") => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Some("TLS13") => &[&rustls::version::TLS13],
        Some(v) => {
            return Err(WebConfigError::Yaml(format!(
                "tls_server_config.min_version: `{v}` (TLS12 or TLS13; older versions are not offered)"
            )));
        }
    };
    // ring, not aws-lc-rs: it builds without cmake and a C++ toolchain
    // (rustls now steers to aws-lc-rs for post-quantum key exchange,
    // which scrapes on a LAN do not need).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut c = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| WebConfigError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| WebConfigError::Tls(e.to_string()))?;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(c)
}

/// Basic auth against bcrypt hashes. bcrypt is slow on purpose (tens of
/// milliseconds per check), so a header that checked out is remembered
/// (as a keyed hash, never the password) and not checked again.
#[derive(Clone)]
pub struct Auth {
    users: HashMap<String, String>,
    dummy: String,
    cache: Arc<Mutex<HashMap<u64, bool>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Auth {
    /// The answer for a header checked before, without checking it again
    /// (`None`: not seen, or forgotten). Cheap: call it on the connection's
    /// thread, and [`Auth::allows`] only when this says nothing.
    pub fn cached(&self, header: Option<&[u8]>) -> Option<bool> {
        let Some(h) = header else {
            return Some(false);
        };
        let key = self.hasher.hash_one(h);
        let c = self.cache.lock().ok()?;
        c.get(&key).copied()
    }

    /// Whether an `Authorization` header value lets the request in (a
    /// bcrypt check when it was not seen before: tens of milliseconds).
    pub fn allows(&self, header: Option<&[u8]>) -> bool {
        if let Some(ok) = self.cached(header) {
            return ok;
        }
        let Some(h) = header else { return false };
        let key = self.hasher.hash_one(h);
        let ok = self.check(h);
        if let Ok(mut c) = self.cache.lock() {
            // Bounded: a flood of wrong passwords must not grow memory,
            // nor push out the headers that were right.
            if c.len() >= 256 {
                c.retain(|_, ok| *ok);
                if c.len() >= 256 {
                    c.clear();
                }
            }
            c.insert(key, ok);
        }
        ok
    }

    fn check(&self, h: &[u8]) -> bool {
        let Some(b64) = h.strip_prefix(b"Basic ") else {
            return false;
        };
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim_ascii()) else {
            return false;
        };
        let Ok(raw) = String::from_utf8(raw) else {
            return false;
        };
        let Some((user, pass)) = raw.split_once(':') else {
            return false;
        };
        match self.users.get(user) {
            Some(hash) => bcrypt::verify(pass, hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify(pass, &self.dummy);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> Result<WebConfig, WebConfigError> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("web.yml");
        std::fs::write(&p, yaml).unwrap();
        WebConfig::load(&p)
    }

    #[test]
    fn basic_auth_with_bcrypt() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let c = cfg(&format!("basic_auth_users:\n  prom: '{hash}'\n")).unwrap();
        let a = c.auth.unwrap();
        let hdr = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        };
        assert!(a.allows(Some(hdr("prom", "s3cret").as_bytes())));
        // Cached, and still right.
        assert!(a.allows(Some(hdr("prom", "s3cret").as_bytes())));
        assert!(!a.allows(Some(hdr("prom", "wrong").as_bytes())));
        assert!(!a.allows(Some(hdr("nobody", "s3cret").as_bytes())));
        assert!(!a.allows(None));
        assert!(!a.allows(Some(b"Bearer x")));
        assert!(!a.allows(Some(b"Basic !!!")));
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        assert!(matches!(
            cfg("basic_auth_user:\n  a: b\n"),
            Err(WebConfigError::Yaml(_))
        ));
        assert!(matches!(
            cfg("basic_auth_users:\n  a: plain\n"),
            Err(WebConfigError::Yaml(_))
        ));
        assert!(matches!(
            cfg("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n"),
            Err(WebConfigError::Read { .. })
        ));
        let e = cfg("basic_auth_users:\n  a: '$2garbage'\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a bcrypt hash"), "{e}");
        let slow = "$2b$31$CwTycUXWue0Thq9StjUM0uJ8.ySLZ1VSbFYuoMtj1p1xOD9yQoXQK";
        let e = cfg(&format!("basic_auth_users:\n  a: '{slow}'\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cost 31"), "{e}");
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("cert.pem");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let p = d.path().join("web.yml");
        std::fs::write(
            &p,
            "tls_server_config:\n  cert_file: cert.pem\n  key_file: cert.pem\n",
        )
        .unwrap();
        let e = WebConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let empty = cfg("{}\n").unwrap();
        assert!(empty.tls.is_none() && empty.auth.is_none());
    }
}
