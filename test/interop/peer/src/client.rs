//! Client mode: a stock `protosocket_rpc::client::RpcClient`, one JSON line per scenario.
//!
//! Scenarios for this peer's own server (see server.rs): `echo`, `echo-bytes`, `big`,
//! `stream`, `stream-empty`, `cancel`, `stream-cancel`, `error`, `reject`, `unary-on-stream`,
//! `unary-on-empty-stream`, or `all`. For any server, `<kind>:<pattern>[:<json>]`:
//!
//! | kind            | what it does |
//! |-----------------|--------------|
//! | `call`          | `send_unary`, prints the reply (or how it failed) |
//! | `stream`        | `send_streaming`, prints every item and how the stream ended |
//! | `count`         | `send_streaming`, prints how many items came, and whether their `i` (or the items themselves) counted 0, 1, 2, ... |
//! | `slow-count`    | as `count`, but after the first item prints `{"event":"stalled"}` and reads no more until a line arrives on stdin |
//! | `cancel-call`   | `send_unary`, prints `{"event":"sent","id":..}`, waits for a line on stdin, then drops the completion (protosocket-rpc sends Cancel) |
//! | `cancel-stream` | `send_streaming`, takes 3 items, then drops the completion |
//! | `big-echo`      | `send_unary` with 200 KiB of bytes as the payload (no `<json>`), checks the same bytes come back |
//!
//! Each line is `{"scenario", "ok", ...}`; `ok` means protosocket-rpc 2.0.2 behaved as
//! described next to the scenario (for the generic kinds, that the call completed at all).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::channel::mpsc;
use futures::StreamExt;
use protosocket_rpc::client::{Configuration, RpcClient, TcpStreamConnector};
use protosocket_rpc::Error;
use serde_json::{json, Value};

use crate::envelope::{Envelope, Payload};
use crate::server::BIG_PAYLOAD_BYTES;
use crate::PeerCodec;

const ALL: &[&str] = &[
    "echo",
    "echo-bytes",
    "big",
    "stream",
    "stream-empty",
    "cancel",
    "stream-cancel",
    "error",
    "reject",
    "unary-on-stream",
    "unary-on-empty-stream",
];

const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Returns whether every scenario was ok. Ids count up from `first_id`.
pub async fn run<C: PeerCodec>(addr: SocketAddr, first_id: u64, scenarios: &[String]) -> Result<bool, Error> {
    let (client, connection) =
        protosocket_rpc::client::connect::<C, _>(addr, &Configuration::new(TcpStreamConnector)).await?;
    tokio::spawn(connection);
    let mut peer = Peer { client, next_id: AtomicU64::new(first_id), go: stdin_lines() };

    let mut all_ok = true;
    for scenario in scenarios {
        let names: Vec<&str> = if scenario == "all" { ALL.to_vec() } else { vec![scenario.as_str()] };
        for name in names {
            let mut line = peer.scenario(name).await;
            let ok = line["ok"].as_bool().unwrap_or(false);
            all_ok &= ok;
            line["scenario"] = Value::from(name);
            crate::emit(line);
        }
    }
    Ok(all_ok)
}

struct Peer {
    client: RpcClient<Envelope, Envelope>,
    next_id: AtomicU64,
    /// Lines from stdin: how the test driving this peer says "go on".
    go: mpsc::UnboundedReceiver<String>,
}

fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (sender, receiver) = mpsc::unbounded();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if sender.unbounded_send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

impl Peer {
    /// protosocket-rpc does not allocate ids: the caller puts one in the request.
    fn request(&self, pattern: &str, payload: Option<Payload>) -> Envelope {
        let mut request = Envelope::request(pattern, payload);
        request.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        request
    }

    async fn unary(&self, request: Envelope) -> Result<Envelope, Value> {
        let completion = self.client.send_unary(request).map_err(|e| error_json(&e))?;
        match tokio::time::timeout(CALL_TIMEOUT, completion).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(error_json(&e)),
            Err(_) => Err(json!({ "kind": "Timeout" })),
        }
    }

    /// Collects the stream's items and how it ended.
    async fn streaming(&self, request: Envelope, take: Option<usize>) -> (Vec<Value>, Value) {
        let mut completion = match self.client.send_streaming(request) {
            Ok(completion) => completion,
            Err(e) => return (vec![], error_json(&e)),
        };
        let mut items = Vec::new();
        loop {
            if take.map_or(false, |n| items.len() >= n) {
                drop(completion); // sends Cancel
                return (items, json!({ "kind": "DroppedByClient" }));
            }
            match tokio::time::timeout(CALL_TIMEOUT, completion.next()).await {
                Ok(Some(Ok(item))) => items.push(item.summary()),
                Ok(Some(Err(e))) => return (items, error_json(&e)),
                Ok(None) => return (items, json!({ "kind": "None" })),
                Err(_) => return (items, json!({ "kind": "Timeout" })),
            }
        }
    }

    async fn wait_go(&mut self) {
        let _ = self.go.next().await;
    }

    async fn scenario(&mut self, name: &str) -> Value {
        let hello = json!({ "hello": "world", "n": [1, 2.5, -3], "nil": null });
        match name {
            // A unary reply is one Normal frame with the request's id.
            "echo" => {
                let request = self.request("echo", Envelope::json(&hello));
                let id = request.id;
                match self.unary(request).await {
                    Ok(r) => json!({ "ok": r.id == id && r.code == 0 && r.data_json() == Some(hello), "reply": r.summary() }),
                    Err(e) => json!({ "ok": false, "error": e }),
                }
            }
            "echo-bytes" => {
                let bytes = vec![0xca, 0xfe, 0xba, 0xbe];
                match self.unary(self.request("echo", Some(Payload::Raw(bytes.clone())))).await {
                    Ok(r) => json!({ "ok": r.payload == Some(Payload::Raw(bytes)), "reply": r.summary() }),
                    Err(e) => json!({ "ok": false, "error": e }),
                }
            }
            "big" => match self.unary(self.request("big", None)).await {
                Ok(r) => {
                    let len = match &r.payload {
                        Some(Payload::Raw(bytes)) => bytes.len(),
                        _ => 0,
                    };
                    json!({ "ok": len == BIG_PAYLOAD_BYTES, "bytes": len })
                }
                Err(e) => json!({ "ok": false, "error": e }),
            },
            // Items are Normal frames; the server's End makes the stream yield Err(Finished).
            "stream" | "stream-empty" => {
                let n = if name == "stream" { 5 } else { 0 };
                let (items, end) = self.streaming(self.request("stream", Envelope::json(&json!(n))), None).await;
                json!({ "ok": items.len() == n && end["kind"] == "Finished", "items": items, "end": end })
            }
            // Dropping the completion sends Cancel; the server prints {"event":"cancelled"}.
            "cancel" => {
                let request = self.request("wait-cancel", None);
                let id = request.id;
                let completion = self.client.send_unary(request);
                tokio::time::sleep(Duration::from_millis(200)).await;
                drop(completion);
                tokio::time::sleep(Duration::from_millis(100)).await;
                let after = self.unary(self.request("echo", Envelope::json(&json!("still here")))).await;
                json!({ "ok": after.is_ok(), "cancelled_id": id, "echo_after_cancel": after.map(|r| r.summary()).unwrap_or_else(|e| e) })
            }
            "stream-cancel" => {
                let (items, end) = self.streaming(self.request("ticker", None), Some(3)).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let after = self.unary(self.request("echo", Envelope::json(&json!("still here")))).await;
                json!({ "ok": items.len() == 3 && after.is_ok(), "items": items, "end": end })
            }
            // An error is a Normal whose envelope carries it: the unary call completes with it.
            "error" => match self.unary(self.request("error", None)).await {
                Ok(r) => json!({ "ok": r.error.is_some() && r.payload.is_none(), "reply": r.summary() }),
                Err(e) => json!({ "ok": false, "error": e }),
            },
            // RpcKind::Cancelled on the server: a Cancel frame.
            "reject" => expect_cancelled(self.unary(self.request("no-such-pattern", None)).await),
            // A unary call completes on the first Normal frame; later frames are ignored.
            "unary-on-stream" => match self.unary(self.request("stream", Envelope::json(&json!(3)))).await {
                Ok(r) => json!({ "ok": r.data_json() == Some(json!(0)), "reply": r.summary() }),
                Err(e) => json!({ "ok": false, "error": e }),
            },
            // End for a unary call: the completion is dropped, so CancelledRemotely.
            "unary-on-empty-stream" => expect_cancelled(self.unary(self.request("stream", Envelope::json(&json!(0)))).await),
            other => self.generic(other).await,
        }
    }

    /// `<kind>:<pattern>[:<json>]`, see the table at the top.
    async fn generic(&mut self, spec: &str) -> Value {
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let (pattern, data) = split_pattern(rest);
        let payload = match data.map(serde_json::from_str::<Value>) {
            None => None,
            Some(Ok(value)) => Envelope::json(&value),
            Some(Err(e)) => return json!({ "ok": false, "error": format!("bad JSON data: {e}") }),
        };
        let request = self.request(pattern, payload);
        let id = request.id;
        match kind {
            "call" => match self.unary(request).await {
                Ok(r) => json!({ "ok": true, "id": id, "reply": r.summary() }),
                Err(e) => json!({ "ok": false, "id": id, "error": e }),
            },
            "stream" => {
                let (items, end) = self.streaming(request, None).await;
                json!({ "ok": end["kind"] == "Finished", "id": id, "items": items, "end": end })
            }
            "count" | "slow-count" => self.count(request, kind == "slow-count").await,
            "cancel-call" => {
                let completion = self.client.send_unary(request);
                crate::emit(json!({ "event": "sent", "id": id }));
                self.wait_go().await;
                let sent = completion.is_ok();
                drop(completion); // protosocket-rpc sends Cancel for the id
                json!({ "ok": sent, "id": id, "dropped": true })
            }
            "big-echo" => {
                let bytes: Vec<u8> = (0..BIG_PAYLOAD_BYTES).map(|i| (i % 251) as u8).collect();
                let mut request = request;
                request.payload = Some(Payload::Raw(bytes.clone()));
                match self.unary(request).await {
                    Ok(r) => json!({ "ok": r.payload == Some(Payload::Raw(bytes)), "id": id, "reply": r.summary() }),
                    Err(e) => json!({ "ok": false, "id": id, "error": e }),
                }
            }
            "cancel-stream" => {
                let (items, end) = self.streaming(request, Some(3)).await;
                json!({ "ok": items.len() == 3, "id": id, "items": items, "end": end })
            }
            _ => json!({ "ok": false, "error": format!("unknown scenario {spec}") }),
        }
    }

    /// Reads a stream to its end, keeping only the count and whether the items counted up.
    async fn count(&mut self, request: Envelope, stall: bool) -> Value {
        let id = request.id;
        let mut completion = match self.client.send_streaming(request) {
            Ok(completion) => completion,
            Err(e) => return json!({ "ok": false, "id": id, "error": error_json(&e) }),
        };
        let mut count: u64 = 0;
        let mut in_order = true;
        let end = loop {
            match tokio::time::timeout(Duration::from_secs(30), completion.next()).await {
                Ok(Some(Ok(item))) => {
                    let data = item.data_json().unwrap_or(Value::Null);
                    let index = data.get("i").and_then(Value::as_u64).or_else(|| data.as_u64());
                    in_order &= index == Some(count) && item.error.is_none();
                    count += 1;
                    if stall && count == 1 {
                        crate::emit(json!({ "event": "stalled", "id": id }));
                        self.wait_go().await;
                    }
                }
                Ok(Some(Err(e))) => break error_json(&e),
                Ok(None) => break json!({ "kind": "None" }),
                Err(_) => break json!({ "kind": "Timeout" }),
            }
        };
        json!({ "ok": end["kind"] == "Finished", "id": id, "count": count, "in_order": in_order, "end": end })
    }
}

/// A pattern is either JSON (an object pattern such as {"cmd":"sum"}) or text up to ':'.
fn split_pattern(rest: &str) -> (&str, Option<&str>) {
    if rest.starts_with('{') {
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        if stream.next().map_or(false, |v| v.is_ok()) {
            let end = stream.byte_offset();
            return (&rest[..end], rest[end..].strip_prefix(':'));
        }
    }
    match rest.split_once(':') {
        Some((pattern, data)) => (pattern, Some(data)),
        None => (rest, None),
    }
}

fn expect_cancelled(result: Result<Envelope, Value>) -> Value {
    match result {
        Ok(r) => json!({ "ok": false, "reply": r.summary() }),
        Err(e) => json!({ "ok": e["kind"] == "CancelledRemotely", "error": e }),
    }
}

fn error_json(error: &Error) -> Value {
    let kind = match error {
        Error::IoFailure(_) => "IoFailure",
        Error::CancelledRemotely => "CancelledRemotely",
        Error::ConnectionIsClosed => "ConnectionIsClosed",
        Error::Finished => "Finished",
    };
    json!({ "kind": kind, "message": error.to_string() })
}
