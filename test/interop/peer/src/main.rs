//! protosocket-peer: a peer built on the real protosocket-rpc 2.0.2 crates, for
//! nestjs-protosocket's interop tests.
//!
//! ```text
//! protosocket-peer server  --codec prost|messagepack [--listen 127.0.0.1:0]
//! protosocket-peer client  --codec prost|messagepack --addr 127.0.0.1:PORT [--first-id N] SCENARIO...
//! protosocket-peer vectors --codec prost|messagepack
//! protosocket-peer decode  --codec prost|messagepack HEX...
//! ```
//!
//! Every mode prints JSON lines on stdout (logs go to stderr; RUST_LOG=debug for
//! protosocket's own). Addresses must be loopback.

mod client;
mod envelope;
mod server;

use std::net::SocketAddr;
use std::process::ExitCode;

use envelope::{code, hex, Envelope, Payload};
use protosocket::{Decoder, Encoder, PooledEncoder, Reusable};
use protosocket_messagepack::{MessagePackDecoder, MessagePackSerializer};
use protosocket_prost::{ProstDecoder, ProstSerializer};
use serde_json::{json, Value};

/// The stock codecs of protosocket-prost and protosocket-messagepack, as an upstream server
/// would set them up.
pub type ProstCodec = (PooledEncoder<ProstSerializer<Envelope>>, ProstDecoder<Envelope>);
pub type MessagePackCodec = (PooledEncoder<MessagePackSerializer<Envelope>>, MessagePackDecoder<Envelope>);

pub trait PeerCodec:
    protosocket::Codec
    + Decoder<Message = Envelope>
    + Encoder<Message = Envelope, Serialized = Reusable>
    + Default
    + Send
    + 'static
{
}
impl<T> PeerCodec for T where
    T: protosocket::Codec
        + Decoder<Message = Envelope>
        + Encoder<Message = Envelope, Serialized = Reusable>
        + Default
        + Send
        + 'static
{
}

/// One JSON line on stdout.
pub fn emit(line: Value) {
    println!("{line}");
}

struct Args {
    mode: String,
    codec: String,
    addr: Option<SocketAddr>,
    first_id: u64,
    rest: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut argv = std::env::args().skip(1);
    let mode = argv.next().ok_or("missing mode: server, client or vectors")?;
    let mut args = Args { mode, codec: "prost".into(), addr: None, first_id: 1, rest: vec![] };
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--codec" => args.codec = argv.next().ok_or("--codec needs a value")?,
            "--listen" | "--addr" => {
                let addr: SocketAddr = argv
                    .next()
                    .ok_or("--listen/--addr needs a value")?
                    .parse()
                    .map_err(|e| format!("bad address: {e}"))?;
                if !addr.ip().is_loopback() {
                    return Err(format!("{addr} is not a loopback address"));
                }
                args.addr = Some(addr);
            }
            "--first-id" => {
                args.first_id = argv
                    .next()
                    .ok_or("--first-id needs a value")?
                    .parse()
                    .map_err(|e| format!("bad --first-id: {e}"))?;
            }
            _ => args.rest.push(arg),
        }
    }
    if args.codec != "prost" && args.codec != "messagepack" {
        return Err(format!("unknown codec {}: use prost or messagepack", args.codec));
    }
    Ok(args)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .target(env_logger::Target::Stderr)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("protosocket-peer: {e}");
            return ExitCode::from(2);
        }
    };
    let prost = args.codec == "prost";
    let result: Result<bool, String> = match args.mode.as_str() {
        "server" => {
            let listen = args.addr.unwrap_or_else(|| "127.0.0.1:0".parse().expect("valid"));
            let served = if prost {
                server::run::<ProstCodec>(listen, &args.codec).await
            } else {
                server::run::<MessagePackCodec>(listen, &args.codec).await
            };
            served.map(|_| true).map_err(|e| e.to_string())
        }
        "client" => match args.addr {
            None => Err("client needs --addr".into()),
            Some(addr) if args.rest.is_empty() => Err(format!("no scenario for {addr}")),
            Some(addr) => {
                let ran = if prost {
                    client::run::<ProstCodec>(addr, args.first_id, &args.rest).await
                } else {
                    client::run::<MessagePackCodec>(addr, args.first_id, &args.rest).await
                };
                ran.map_err(|e| e.to_string())
            }
        },
        "decode" => {
            for text in &args.rest {
                if prost {
                    decode::<ProstCodec>(text);
                } else {
                    decode::<MessagePackCodec>(text);
                }
            }
            Ok(true)
        }
        "vectors" => {
            if prost {
                vectors::<ProstCodec>();
            } else {
                vectors::<MessagePackCodec>();
                derived_struct_vector();
            }
            Ok(true)
        }
        other => Err(format!("unknown mode {other}")),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("protosocket-peer: {e}");
            ExitCode::from(2)
        }
    }
}

/// The frames of PROTOCOL.md's tables, through the stock encoder and back through the stock
/// decoder, to compare with test/vectors.
fn vectors<C: PeerCodec>() {
    let mut request = Envelope::request(r#"{"cmd":"sum"}"#, Envelope::json(&json!([1, 2, 3])));
    request.id = 1;
    request.timeout_ms = Some(5000);
    request.meta.insert("x-trace-id".into(), "abc123".into());
    let reply = Envelope { id: 1, code: code::NORMAL, payload: Envelope::json(&json!(6)), ..Default::default() };
    let mut failure = Envelope::failure(&json!({ "code": "ERR_NO_HANDLER", "message": "no handler for pattern nope" }));
    failure.id = 7;
    let bytes_reply = Envelope {
        id: 6,
        code: code::NORMAL,
        payload: Some(Payload::Raw(vec![0xca, 0xfe, 0xba, 0xbe])),
        ..Default::default()
    };
    let samples = [
        ("unary-request", request),
        ("reply", reply),
        ("binary-reply", bytes_reply),
        ("error", failure),
        ("end", Envelope::control(5, code::END)),
        ("cancel", Envelope::control(5, code::CANCEL)),
    ];
    for (name, envelope) in samples {
        let encoded = C::default().encode(envelope);
        let decoded = C::default().decode(&encoded[..]);
        let decoded = match decoded {
            Ok((used, envelope)) => json!({ "consumed": used, "frame": envelope.summary() }),
            Err(e) => json!({ "error": e.to_string() }),
        };
        emit(json!({ "vector": name, "hex": hex(&encoded), "decoded": decoded }));
    }
}

/// What the stock decoder makes of a frame given in hex (whitespace allowed).
fn decode<C: PeerCodec>(text: &str) {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes: Result<Vec<u8>, _> = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2).unwrap_or("x"), 16))
        .collect();
    let line = match bytes {
        Err(_) => json!({ "input": text, "error": "not hex" }),
        Ok(bytes) => match C::default().decode(&bytes[..]) {
            Ok((used, envelope)) => json!({ "input": digits, "consumed": used, "of": bytes.len(), "frame": envelope.summary() }),
            Err(e) => json!({ "input": digits, "error": format!("{e:?}") }),
        },
    };
    emit(line);
}

/// What a plain `#[derive(Serialize)]` message looks like through protosocket-messagepack.
fn derived_struct_vector() {
    #[derive(Debug, serde::Serialize)]
    struct Derived {
        id: u64,
        code: u32,
        pattern: Option<String>,
        body: Vec<u8>,
    }
    let message = Derived { id: 1, code: 0, pattern: None, body: vec![1, 2] };
    let encoded = PooledEncoder::new(MessagePackSerializer::<Derived>::default()).encode(message);
    emit(json!({ "vector": "derived-struct {id:1,code:0,pattern:None,body:vec![1,2]}", "hex": hex(&encoded) }));
}
