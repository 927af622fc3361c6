//! Serving connections: HTTP/1.1 with hyper, with what a public listener needs and
//! `axum::serve` does not set: a deadline for each request's headers, which closes slow-loris
//! connections and keep-alive connections left idle, and a bounded graceful shutdown.
//!
//! On shutdown the listener closes at once; every connection answers what it has received
//! and what arrives within [`IDLE_GRACE`] (a request that crossed the signal on the wire),
//! with `Connection: close` on every response written after the signal, then closes.
//! Connections whose requests are still in progress after the drain deadline are dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::PeerAddr;

/// How long a connection stays open after the shutdown signal for a request that was on its
/// way: a keep-alive client may have sent one just as the signal came.
pub const IDLE_GRACE: Duration = Duration::from_millis(500);

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, answers
/// the requests received (see the module's documentation), and returns once every connection
/// is closed or after `drain`, whichever comes first. `header_timeout`: how long a client may
/// take to send a request's headers, counted from the end of the previous response on a
/// kept-alive connection, so idle connections close after it too.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    header_timeout: Duration,
    drain: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        connections.spawn(serve_connection(
            io,
            addr,
            router.clone(),
            header_timeout,
            stop_rx.clone(),
        ));
    }
    // Connections hear the signal before the listener closes: a client that sees the listener
    // closed and sends a request on a kept-alive connection gets `Connection: close`.
    let _ = stop_tx.send(true);
    drop(listener);
    let drained = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            drain_ms = drain.as_millis(),
            "requests still in progress at the end of the shutdown deadline; closing their connections"
        );
        connections.shutdown().await;
    }
    Ok(())
}

async fn serve_connection<IO>(
    io: IO,
    addr: SocketAddr,
    router: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // Set once the shutdown signal came: every response from then on says the connection
    // closes after it. One flag per connection, so requests do not share a cache line.
    let closing = Arc::new(AtomicBool::new(false));
    let closing_flag = Arc::clone(&closing);
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(PeerAddr(addr)));
        let response = router.clone().oneshot(request.map(Body::new));
        let closing = Arc::clone(&closing_flag);
        async move {
            let mut response = response.await?;
            if closing.load(Ordering::Relaxed) {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let ended = |result: Result<(), hyper::Error>| {
        if let Err(e) = result {
            tracing::trace!(error = %e, "connection ended with an error");
        }
    };
    // The signal first: a request read in the same wake-up as the signal is answered as
    // after it.
    tokio::select! {
        biased;
        _ = stop.wait_for(|stop| *stop) => {}
        result = connection.as_mut() => return ended(result),
    }
    closing.store(true, Ordering::Relaxed);
    // A response marked `Connection: close` ends the connection; an idle one waits a little
    // for a request that may be on its way.
    tokio::select! {
        result = connection.as_mut() => return ended(result),
        () = tokio::time::sleep(IDLE_GRACE) => {}
    }
    // Closes at once if idle, else after the response in progress.
    connection.as_mut().graceful_shutdown();
    ended(connection.await);
}
