//! The nestjs-protosocket envelope under the protosocket-rpc profile (docs/PROTOCOL.md §12) as
//! one Rust type that both stock protosocket codecs carry:
//!
//! - protosocket-prost: the `Envelope` message of docs/protosocket.proto, via `prost::Message`;
//! - protosocket-messagepack: the struct of PROTOCOL.md §12.3, `#[derive(Serialize,
//!   Deserialize)]` with one-letter renames (`WireEnvelope` below). rmp-serde writes it as a
//!   MessagePack *array* `[i, c, p, t, m, d, e]`, and reads it from an array or from the map
//!   nestjs-protosocket writes.
//!
//! The `protosocket_rpc::Message` impl is what protosocket-rpc 2.0.2 needs: the id is field 1
//! / key "i", the control code is field 2 / key "c".

use std::collections::BTreeMap;
use std::fmt;

use protosocket_rpc::ProtosocketControlCode;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// protosocket-rpc's control codes, the only ones of the profile.
pub mod code {
    pub const NORMAL: u32 = 0;
    pub const CANCEL: u32 = 1;
    pub const END: u32 = 2;
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Envelope {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint32, tag = "2")]
    pub code: u32,
    #[prost(string, optional, tag = "3")]
    pub pattern: Option<String>,
    #[prost(uint32, optional, tag = "4")]
    pub timeout_ms: Option<u32>,
    #[prost(btree_map = "string, string", tag = "5")]
    pub meta: BTreeMap<String, String>,
    #[prost(oneof = "Payload", tags = "6, 7, 8")]
    pub payload: Option<Payload>,
    /// Set on a Normal from the server: the call failed, this is its error body as JSON text.
    #[prost(string, optional, tag = "9")]
    pub error: Option<String>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Payload {
    /// Bytes, as they are.
    #[prost(bytes, tag = "6")]
    Raw(Vec<u8>),
    /// Any other value, as JSON text.
    #[prost(string, tag = "7")]
    Json(String),
    /// A protobuf message (google.protobuf.Any). Only the protobuf codec has this form.
    #[prost(message, tag = "8")]
    Message(Any),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes, tag = "2")]
    pub value: Vec<u8>,
}

impl protosocket_rpc::Message for Envelope {
    fn message_id(&self) -> u64 {
        self.id
    }

    /// Like the upstream examples: the u32 is cut to a u8, and `from_u8` reads every value
    /// other than 0, 1 and 2 as Cancel.
    fn control_code(&self) -> ProtosocketControlCode {
        ProtosocketControlCode::from_u8(self.code as u8)
    }

    fn set_message_id(&mut self, message_id: u64) {
        self.id = message_id;
    }

    fn cancelled(message_id: u64) -> Self {
        Self::control(message_id, code::CANCEL)
    }

    fn ended(message_id: u64) -> Self {
        Self::control(message_id, code::END)
    }
}

impl Envelope {
    pub fn control(id: u64, code: u32) -> Self {
        Self {
            id,
            code,
            ..Default::default()
        }
    }

    /// A Normal request to `pattern`.
    pub fn request(pattern: &str, payload: Option<Payload>) -> Self {
        Self {
            pattern: Some(pattern.to_string()),
            payload,
            ..Default::default()
        }
    }

    /// A Normal response frame (a protosocket-rpc unary reply or stream item). The id is
    /// stamped by protosocket-rpc's server.
    pub fn normal(payload: Option<Payload>) -> Self {
        Self {
            code: code::NORMAL,
            payload,
            ..Default::default()
        }
    }

    /// A failed call's answer: a Normal carrying the error body.
    pub fn failure(body: &Value) -> Self {
        Self {
            code: code::NORMAL,
            error: Some(body.to_string()),
            ..Default::default()
        }
    }

    pub fn json(value: &Value) -> Option<Payload> {
        Some(Payload::Json(value.to_string()))
    }

    /// The payload as a JSON value, for printing: bytes as {"$bytes": hex} (PROTOCOL.md §13),
    /// or {"$bytes_len": n} when long.
    pub fn data_json(&self) -> Option<Value> {
        self.payload.as_ref().map(|payload| match payload {
            Payload::Raw(bytes) => bytes_json(bytes),
            Payload::Json(text) => serde_json::from_str(text)
                .unwrap_or_else(|_| serde_json::json!({ "$invalid_json": text })),
            Payload::Message(any) => serde_json::json!({ "$message": any.type_url }),
        })
    }

    /// A summary of the frame, for printing.
    pub fn summary(&self) -> Value {
        let mut out = serde_json::json!({ "id": self.id, "code": self.code });
        if let Some(pattern) = &self.pattern {
            out["pattern"] = Value::from(pattern.as_str());
        }
        if let Some(timeout_ms) = self.timeout_ms {
            out["timeoutMs"] = Value::from(timeout_ms);
        }
        if !self.meta.is_empty() {
            out["meta"] = serde_json::to_value(&self.meta).unwrap_or(Value::Null);
        }
        if let Some(data) = self.data_json() {
            out["data"] = data;
        }
        if let Some(error) = &self.error {
            out["error"] = serde_json::from_str(error).unwrap_or_else(|_| serde_json::json!({ "$invalid_json": error }));
        }
        out
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bytes_json(bytes: &[u8]) -> Value {
    if bytes.len() <= 64 {
        serde_json::json!({ "$bytes": hex(bytes) })
    } else {
        serde_json::json!({ "$bytes_len": bytes.len() })
    }
}

// ---- MessagePack form (PROTOCOL.md §12.3): the struct a Rust user writes, derived.

/// The envelope as protosocket-messagepack carries it. Field order is the array form's order.
#[derive(Serialize, Deserialize, Default)]
struct WireEnvelope {
    #[serde(rename = "i")]
    id: u64,
    #[serde(rename = "c")]
    code: u32,
    #[serde(rename = "p", default)]
    pattern: Option<String>,
    #[serde(rename = "t", default)]
    timeout_ms: Option<u32>,
    #[serde(rename = "m", default)]
    meta: BTreeMap<String, String>,
    #[serde(rename = "d", default)]
    data: Option<Data>,
    #[serde(rename = "e", default)]
    error: Option<Data>,
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let data = match &self.payload {
            None => None,
            Some(Payload::Raw(bytes)) => Some(Data::Bytes(bytes.clone())),
            // protosocket-messagepack panics on a serialization error, so never fail here.
            Some(Payload::Json(text)) => Some(Data::Value(serde_json::from_str(text).unwrap_or(Value::Null))),
            Some(Payload::Message(_)) => Some(Data::Value(Value::Null)),
        };
        let error = self.error.as_ref().map(|text| Data::Value(serde_json::from_str(text).unwrap_or(Value::Null)));
        WireEnvelope {
            id: self.id,
            code: self.code,
            pattern: self.pattern.clone(),
            timeout_ms: self.timeout_ms,
            meta: self.meta.clone(),
            data,
            error,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireEnvelope::deserialize(deserializer)?;
        Ok(Envelope {
            id: wire.id,
            code: wire.code,
            pattern: wire.pattern,
            timeout_ms: wire.timeout_ms,
            meta: wire.meta,
            payload: wire.data.map(Data::into_payload),
            error: wire.error.map(|error| error.into_json().to_string()),
        })
    }
}

/// Any MessagePack value: bin is kept as bytes, everything else becomes JSON.
enum Data {
    Bytes(Vec<u8>),
    Value(Value),
}

impl Data {
    fn into_payload(self) -> Payload {
        match self {
            Data::Bytes(bytes) => Payload::Raw(bytes),
            Data::Value(value) => Payload::Json(value.to_string()),
        }
    }

    /// Nested bytes are shown as {"$bytes": hex}.
    fn into_json(self) -> Value {
        match self {
            Data::Bytes(bytes) => serde_json::json!({ "$bytes": hex(&bytes) }),
            Data::Value(value) => value,
        }
    }
}

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Data::Bytes(bytes) => serializer.serialize_bytes(bytes),
            Data::Value(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DataVisitor)
    }
}

struct DataVisitor;

impl<'de> Visitor<'de> for DataVisitor {
    type Value = Data;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any MessagePack value")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Data, E> {
        Ok(Data::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Data, E> {
        Ok(Data::Bytes(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Data, E> {
        Ok(Data::Value(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Data, E> {
        Ok(Data::Value(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Data, D::Error> {
        d.deserialize_any(DataVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Data, E> {
        Ok(Data::Value(Value::from(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Data, E> {
        Ok(Data::Value(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Data, E> {
        Ok(Data::Value(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Data, E> {
        Ok(Data::Value(Value::from(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Data, E> {
        Ok(Data::Value(Value::from(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Data, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Data>()? {
            items.push(item.into_json());
        }
        Ok(Data::Value(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some((key, value)) = map.next_entry::<Data, Data>()? {
            let key = match key.into_json() {
                Value::String(key) => key,
                other => other.to_string(),
            };
            object.insert(key, value.into_json());
        }
        Ok(Data::Value(Value::Object(object)))
    }
}
