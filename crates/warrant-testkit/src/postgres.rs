//! A fresh PostgreSQL database per test, and a proxy between a server and its database that a
//! test can cut or freeze.

/// A fresh PostgreSQL database, dropped when the guard goes.
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// A database under `WARRANT_TEST_DATABASE_URL`. The tests that call this are ignored
    /// unless that variable is set (see the crates' build scripts); one run anyway (with
    /// `--ignored`) without it fails here, rather than passing without having run.
    pub async fn create() -> Self {
        let Ok(admin_url) = std::env::var("WARRANT_TEST_DATABASE_URL") else {
            panic!(
                "this test needs PostgreSQL: set WARRANT_TEST_DATABASE_URL, e.g. \
                 postgres://postgres@127.0.0.1:5432/postgres"
            );
        };
        let name = format!(
            "warrant_test_{}",
            warrant_server::domain::random_alphanumeric(12).to_lowercase()
        );
        let mut admin = sqlx_connect(&admin_url).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot create a test database at WARRANT_TEST_DATABASE_URL: {e}")
            });
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        }
    }
}

impl std::fmt::Debug for PgDatabase {
    // The URLs may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Best effort, on a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut admin = sqlx_connect(&admin_url).await;
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await;
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}

async fn sqlx_connect(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at WARRANT_TEST_DATABASE_URL is unreachable: {e}"))
}

/// What a [`DbProxy`] does with the bytes between the server and its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward both ways.
    Pass,
    /// Close every open connection and every new one at once (the database gone, politely:
    /// clients see the connection end).
    Cut,
    /// Keep every socket open and forward nothing (a partition, a failover, a NAT or load
    /// balancer dropping its state, a host gone without resets: clients see silence). New
    /// connections are accepted and get silence too. Connections frozen once stay frozen when
    /// the mode goes back to `Pass`, as connections to a host that went away do: only new
    /// ones pass. `Cut` (or dropping the proxy) closes them.
    Freeze,
}

/// A TCP proxy between a server and its database that a test can cut or freeze. Point the
/// server at [`url`](Self::url) instead of the database's URL.
#[derive(Debug)]
pub struct DbProxy {
    /// The database URL with the proxy's address in place of the database's.
    pub url: String,
    pub addr: std::net::SocketAddr,
    mode: tokio::sync::watch::Sender<ProxyMode>,
}

impl DbProxy {
    /// A proxy in [`ProxyMode::Pass`] to the host and port of `database_url`
    /// (`scheme://user[:password]@host:port/name`). Dropping it closes every connection.
    pub async fn start(database_url: &str) -> Self {
        use tokio::net::{TcpListener, TcpStream};

        let (prefix, rest) = database_url.split_once('@').expect("a URL with user@host");
        let (upstream, name) = rest.split_once('/').expect("a URL with a database name");
        let upstream = upstream.to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, mut mode_rx) = tokio::sync::watch::channel(ProxyMode::Pass);
        let connection_modes = mode.subscribe();
        tokio::spawn(async move {
            loop {
                let client = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => client,
                        Err(_) => continue,
                    },
                    // The proxy was dropped.
                    changed = mode_rx.changed() => match changed {
                        Ok(()) => continue,
                        Err(_) => return,
                    },
                };
                let mut mode = connection_modes.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let initial = *mode.borrow_and_update();
                    match initial {
                        ProxyMode::Cut => return,
                        ProxyMode::Freeze => {
                            let _ = mode.wait_for(|m| *m == ProxyMode::Cut).await;
                            drop(client);
                            return;
                        }
                        ProxyMode::Pass => {}
                    }
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let mut client = client;
                    let interrupted = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
                        interrupted = mode.wait_for(|m| *m != ProxyMode::Pass) => interrupted.map(|m| *m),
                    };
                    if matches!(interrupted, Ok(ProxyMode::Freeze)) {
                        // Silence for good: hold both sockets, forward nothing.
                        let _ = mode.wait_for(|m| *m == ProxyMode::Cut).await;
                    }
                    drop((client, server));
                });
            }
        });
        Self {
            url: format!("{prefix}@{addr}/{name}"),
            addr,
            mode,
        }
    }

    pub fn set(&self, mode: ProxyMode) {
        self.mode.send_replace(mode);
    }
}
