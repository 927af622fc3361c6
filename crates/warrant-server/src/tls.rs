//! HTTPS: certificate files, or a self-signed local CA created once in the data directory, and
//! a listener that completes TLS handshakes off the accept path (a slow or silent client cannot
//! hold up the others).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files: the certificate chain and its private key.
    Files { cert: PathBuf, key: PathBuf },
    /// A local CA and a certificate for localhost, created once in `<data-dir>/tls`.
    SelfSigned,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} holds no certificate")]
    NoCertificate { path: String },
    #[error("the certificate and key are not usable together: {0}")]
    Config(String),
    #[error("creating the self-signed certificate failed: {0}")]
    Generate(String),
}

/// The TLS configuration, and the CA file to trust when the certificate is self-signed.
#[derive(Debug)]
pub struct Tls {
    pub config: Arc<ServerConfig>,
    pub ca_path: Option<PathBuf>,
}

impl Tls {
    pub fn load(source: &TlsSource, data_dir: &Path, listen: SocketAddr) -> Result<Self, TlsError> {
        let (cert, key, ca_path) = match source {
            TlsSource::Files { cert, key } => (cert.clone(), key.clone(), None),
            TlsSource::SelfSigned => {
                let dir = data_dir.join("tls");
                ensure_self_signed(&dir, listen.ip())?;
                (
                    dir.join("server.pem"),
                    dir.join("server.key"),
                    Some(dir.join("ca.pem")),
                )
            }
        };
        let read_err = |path: &Path, e: &dyn std::fmt::Display| TlsError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
            .map_err(|e| read_err(&cert, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| read_err(&cert, &e))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: cert.display().to_string(),
            });
        }
        let private = PrivateKeyDer::from_pem_file(&key).map_err(|e| read_err(&key, &e))?;
        let mut config = ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            ca_path,
        })
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), TlsError> {
    use std::io::Write;
    let err = |source| TlsError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    file.write_all(contents.as_bytes()).map_err(err)
}

/// Creates, once, a CA (`ca.pem`) and a server certificate for localhost, 127.0.0.1, ::1 and
/// the listen address (`server.pem`, `server.key`). The CA's key is not kept: it signs this one
/// certificate only.
fn ensure_self_signed(dir: &Path, listen_ip: IpAddr) -> Result<(), TlsError> {
    let files = ["ca.pem", "server.pem", "server.key"].map(|f| dir.join(f));
    if files.iter().all(|f| f.exists()) {
        return Ok(());
    }
    crate::data_dir::create(dir).map_err(|source| TlsError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());

    let ca_key = KeyPair::generate().map_err(generate)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Warrant local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).map_err(generate)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(generate)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(generate)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "Warrant");
    let mut ips = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !listen_ip.is_unspecified() && !ips.contains(&listen_ip) {
        ips.push(listen_ip);
    }
    params
        .subject_alt_names
        .extend(ips.into_iter().map(SanType::IpAddress));
    let server = params.signed_by(&server_key, &issuer).map_err(generate)?;

    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|source| TlsError::Write {
            path: path.display().to_string(),
            source,
        })
    };
    write(&files[0], &ca.pem())?;
    write(&files[1], &server.pem())?;
    write_private(&files[2], &server_key.serialize_pem())?;
    Ok(())
}

/// Accepts TCP connections and hands out those whose TLS handshake completed.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(256);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = tx.closed() => return,
                };
                let (tcp, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The acceptor task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
