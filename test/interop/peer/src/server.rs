//! Server mode: a stock `protosocket_rpc::server::SocketRpcServer` with a few rpcs, chosen by
//! the request's pattern:
//!
//! | pattern       | kind      | answer |
//! |---------------|-----------|--------|
//! | `echo`        | unary     | one Normal frame with the request's payload |
//! | `big`         | unary     | one Normal frame with a 200 KiB bytes payload (or `data` bytes if a number) |
//! | `stream`      | streaming | `data` (a number, default 5) Normal frames with 0, 1, ..., then End; or `data` = `{"n": N, "pad": BYTES}`: items `{"i": k, "pad": "xxx..."}`, and a `produced` event every 1000 items |
//! | `ticker`      | streaming | a Normal frame every 20 ms until cancelled |
//! | `wait-cancel` | unary     | nothing: waits until cancelled |
//! | `error`       | unary     | one Normal frame carrying an error (`error` field / key `e`) |
//! | anything else | rejected  | `RpcKind::Cancelled`: protosocket-rpc sends a Cancel frame |
//!
//! stdout gets one JSON line per event: `listening`, `request` (each new rpc), `produced`, and
//! `cancelled` (a `ticker` or `wait-cancel` rpc dropped by protosocket-rpc while the
//! connection was open, i.e. after a Cancel) or `connection_closed` (dropped with its
//! connection).

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use protosocket::{SocketListener, SocketResult};
use protosocket_rpc::server::{ConnectionService, RpcKind, SocketRpcServer, SocketService};
use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::envelope::{Envelope, Payload};
use crate::PeerCodec;

pub const BIG_PAYLOAD_BYTES: usize = 200 * 1024;

pub async fn run<C: PeerCodec>(listen: SocketAddr, codec_name: &str) -> std::io::Result<()> {
    let listener = Listener(tokio::net::TcpListener::bind(listen).await?);
    let addr = listener.0.local_addr()?;
    let server = SocketRpcServer::new(
        listener,
        PeerService::<C>(PhantomData),
        4 << 20, // max buffer length: the largest frame a connection accepts
        1 << 20, // buffer allocation increment
        256,     // max queued outbound messages
    )
    .map_err(|e| std::io::Error::new(std::io::ErrorKind::Other, e.to_string()))?;
    crate::emit(json!({ "event": "listening", "addr": addr.to_string(), "codec": codec_name }));
    server.await
}

/// A plain tokio listener. protosocket's own `TcpSocketListener` would do, but it cannot
/// report the port it got for port 0, and it sets SO_REUSEPORT, so a second server on the
/// same port would start silently instead of failing.
struct Listener(tokio::net::TcpListener);

impl SocketListener for Listener {
    type Stream = TcpStream;

    fn poll_accept(&mut self, context: &mut Context<'_>) -> Poll<SocketResult<TcpStream>> {
        match self.0.poll_accept(context) {
            Poll::Ready(Ok((stream, _))) => {
                let _ = stream.set_nodelay(true);
                Poll::Ready(SocketResult::Stream(stream))
            }
            Poll::Ready(Err(e)) => {
                log::error!("accept failed: {e}");
                Poll::Ready(SocketResult::Disconnect)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

struct PeerService<C>(PhantomData<fn() -> C>);

impl<C: PeerCodec> SocketService for PeerService<C> {
    type ConnectionService = PeerConnection<C>;
    type SocketListener = Listener;

    fn codec(&mut self) -> C {
        C::default()
    }

    fn new_stream_service(&mut self, stream: &TcpStream) -> PeerConnection<C> {
        log::info!("new connection from {:?}", stream.peer_addr());
        PeerConnection {
            open: Arc::new(AtomicBool::new(true)),
            _codec: PhantomData,
        }
    }
}

/// Per connection. protosocket-rpc drops it before the rpcs still in flight (field order in
/// its RpcSubmitter), so `open` tells a cancelled rpc from one dropped with its connection.
struct PeerConnection<C> {
    open: Arc<AtomicBool>,
    _codec: PhantomData<fn() -> C>,
}

impl<C> Drop for PeerConnection<C> {
    fn drop(&mut self) {
        self.open.store(false, Ordering::SeqCst);
    }
}

impl<C: PeerCodec> ConnectionService for PeerConnection<C> {
    type Codec = C;
    type Request = Envelope;
    type Response = Envelope;
    type UnaryFutureType = BoxFuture<'static, Envelope>;
    type StreamType = BoxStream<'static, Envelope>;

    fn new_rpc(&mut self, request: Envelope) -> RpcKind<Self::UnaryFutureType, Self::StreamType> {
        crate::emit(json!({ "event": "request", "frame": request.summary() }));
        let id = request.id;
        let count = request.data_json().and_then(|data| data.as_u64());
        match request.pattern.as_deref().unwrap_or_default() {
            "echo" => RpcKind::Unary(futures::future::ready(Envelope::normal(request.payload)).boxed()),
            "big" => {
                let size = count.map_or(BIG_PAYLOAD_BYTES, |n| n as usize);
                let bytes = (0..size).map(|i| (i % 251) as u8).collect();
                RpcKind::Unary(futures::future::ready(Envelope::normal(Some(Payload::Raw(bytes)))).boxed())
            }
            "stream" => match request.data_json() {
                Some(Value::Object(spec)) => {
                    let n = spec.get("n").and_then(Value::as_u64).unwrap_or(5);
                    let pad = "x".repeat(spec.get("pad").and_then(Value::as_u64).unwrap_or(0) as usize);
                    let items = (0..n).map(move |i| {
                        if (i + 1) % 1000 == 0 {
                            crate::emit(json!({ "event": "produced", "id": id, "n": i + 1 }));
                        }
                        Envelope::normal(Envelope::json(&json!({ "i": i, "pad": pad })))
                    });
                    RpcKind::Streaming(futures::stream::iter(items).boxed())
                }
                _ => {
                    let items = (0..count.unwrap_or(5)).map(|i| Envelope::normal(Envelope::json(&Value::from(i))));
                    RpcKind::Streaming(futures::stream::iter(items).boxed())
                }
            },
            "ticker" => {
                let probe = CancelProbe::new(id, "ticker", &self.open);
                let ticks = futures::stream::unfold((probe, 0u64), |(probe, i)| async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Some((Envelope::normal(Envelope::json(&Value::from(i))), (probe, i + 1)))
                });
                RpcKind::Streaming(ticks.boxed())
            }
            "wait-cancel" => {
                let probe = CancelProbe::new(id, "wait-cancel", &self.open);
                RpcKind::Unary(
                    async move {
                        let _probe = probe;
                        futures::future::pending::<Envelope>().await
                    }
                    .boxed(),
                )
            }
            "error" => {
                let body = json!({ "code": "ERR_PEER_TEST", "message": "the error rpc always fails" });
                RpcKind::Unary(futures::future::ready(Envelope::failure(&body)).boxed())
            }
            _ => RpcKind::Cancelled,
        }
    }
}

/// Reports, when dropped, why an rpc that never finishes on its own went away.
struct CancelProbe {
    id: u64,
    pattern: &'static str,
    connection_open: Arc<AtomicBool>,
}

impl CancelProbe {
    fn new(id: u64, pattern: &'static str, connection_open: &Arc<AtomicBool>) -> Self {
        Self {
            id,
            pattern,
            connection_open: connection_open.clone(),
        }
    }
}

impl Drop for CancelProbe {
    fn drop(&mut self) {
        let event = if self.connection_open.load(Ordering::SeqCst) {
            "cancelled"
        } else {
            "connection_closed"
        };
        crate::emit(json!({ "event": event, "id": self.id, "pattern": self.pattern }));
    }
}
