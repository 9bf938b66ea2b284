//! The HTTP server loop. Like `axum::serve`, plus one thing it cannot do: close a connection
//! without answering, which is how the sandbox plays a connection reset and a request that hangs
//! until the client gives up. A handler asks for it with [`dropped_connection`].

use std::convert::Infallible;
use std::future::Future;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Marks a response that must not be sent: its connection is closed instead.
#[derive(Debug, Clone, Copy)]
struct DropConnection;

/// A response that is never sent: the server closes the connection without an answer.
pub(crate) fn dropped_connection() -> Response {
    let mut r = ().into_response();
    r.extensions_mut().insert(DropConnection);
    r
}

/// The error that makes hyper close a connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection closed without an answer (sandbox fault)")]
struct Dropped;

/// Serves `app` on `listener` (HTTP/1.1, keep-alive) until `shutdown` resolves; open
/// connections are then closed gracefully.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) {
    let (closing_tx, closing_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait a moment, as axum::serve does.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let inner = TowerToHyperService::new(app.clone());
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let answer = inner.call(req.map(Body::new));
                async move {
                    let resp: Response = answer.await.unwrap_or_else(|e: Infallible| match e {});
                    if resp.extensions().get::<DropConnection>().is_some() {
                        Err(Dropped)
                    } else {
                        Ok(resp)
                    }
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let closed = tokio::select! {
                _ = conn.as_mut() => true,
                _ = closing.wait_for(|c| *c) => false,
            };
            if !closed {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        });
    }
    let _ = closing_tx.send(true);
}
