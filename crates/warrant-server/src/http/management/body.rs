//! JSON bodies and query strings whose errors name the offending field.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{
    self, DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    Visitor,
};
use serde_json::Value;
use std::fmt;

use super::ApiError;

/// The largest body the management API reads (every documented operation's bodies fit).
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body; unknown fields and wrong types are 400 with the field's path in the message, a
/// body over `LIMIT` bytes ([`MAX_BODY`] unless the route says) is 413.
#[derive(Debug)]
pub struct JsonBody<T, const LIMIT: usize = MAX_BODY>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const LIMIT: usize> FromRequest<S>
    for JsonBody<T, LIMIT>
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::bad_request(
                "Content-Type must be application/json",
            ));
        }
        let bytes = axum::body::to_bytes(request.into_body(), LIMIT)
            .await
            .map_err(|_| {
                ApiError::payload_too_large(format!("the body is larger than {} KiB", LIMIT / 1024))
            })?;
        parse_json(&bytes).map(Self)
    }
}

/// Parses a body: it must be a JSON object, and so must every value that fills a struct
/// (`scopes[0]`, `token_quota`): serde would otherwise map an array onto a struct's fields by
/// position, and `["https://api.example.com", "Name"]` would create an API.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let node = Node::deserialize(&mut de)
        .map_err(|e| ApiError::bad_request(format!("Payload validation error: {e}")))?;
    de.end().map_err(|_| {
        ApiError::bad_request("Payload validation error: trailing data after the JSON body")
    })?;
    if !matches!(node, Node::Object(_)) {
        return Err(ApiError::bad_request(
            "Payload validation error: the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(node).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." || path.is_empty() {
            format!("Payload validation error: {inner}")
        } else {
            format!("Payload validation error: '{path}': {inner}")
        };
        ApiError::bad_request(message)
    })
}

/// A parsed JSON body that keeps what the types need to see: members in order and repeated
/// members (so that a field given twice is refused), and arrays apart from objects.
#[derive(Debug)]
enum Node {
    Scalar(Value),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Scalar(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Scalar(Value::from(v)))
            }
            /// JSON Schema counts `139.0` as the integer 139, and so does this API.
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;
                const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
                Ok(Node::Scalar(match v {
                    v if v.fract() != 0.0 => Value::from(v),
                    v if (0.0..TWO_TO_64).contains(&v) => Value::from(v as u64),
                    v if (-TWO_TO_63..0.0).contains(&v) => Value::from(v as i64),
                    v => Value::from(v),
                }))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Scalar(Value::String(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Scalar(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Node::Object(members))
            }
        }
        de.deserialize_any(NodeVisitor)
    }
}

impl Node {
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Self::Scalar(Value::Null) => Unexpected::Unit,
            Self::Scalar(Value::Bool(b)) => Unexpected::Bool(*b),
            Self::Scalar(Value::Number(_)) => Unexpected::Other("number"),
            Self::Scalar(Value::String(s)) => Unexpected::Str(s),
            Self::Scalar(_) | Self::Object(_) => Unexpected::Map,
            Self::Array(_) => Unexpected::Seq,
        }
    }
}

fn visit_object<'de, V: Visitor<'de>>(
    members: Vec<(String, Node)>,
    visitor: V,
) -> Result<V::Value, serde_json::Error> {
    let mut map = MapDeserializer::new(members.into_iter());
    let value = visitor.visit_map(&mut map)?;
    map.end()?;
    Ok(value)
}

impl<'de> IntoDeserializer<'de, serde_json::Error> for Node {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Node {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Self::Scalar(value) => value.deserialize_any(visitor),
            Self::Array(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Self::Object(members) => visit_object(members, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Self::Scalar(Value::Null) => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    /// Only an object fills a struct: never an array, by position.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self {
            Self::Object(members) => visit_object(members, visitor),
            other => Err(de::Error::invalid_type(
                other.unexpected(),
                &"a JSON object",
            )),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self {
            Self::Scalar(value) => value.deserialize_enum(name, variants, visitor),
            other => Err(de::Error::invalid_type(other.unexpected(), &"a string")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// A query string; unknown parameters and bad values are 400 naming the parameter.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Self).map_err(|e| {
            let mut error = ApiError::bad_request(format!(
                "Query validation error: {}{}",
                match e.path().to_string().as_str() {
                    "." | "" => String::new(),
                    path => format!("'{path}': "),
                },
                e.into_inner()
            ));
            error.error_code = "invalid_query_string";
            error
        })
    }
}
