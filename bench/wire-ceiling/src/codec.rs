//! A tonic codec for sending what is already (or cheaply) encoded and taking
//! answers as they come: the benchmark's requests skip the typed client.

use std::marker::PhantomData;

use bytes::{Buf, BufMut, Bytes};
use milvus_wire::proto::milvus::{MutationResult, QueryRequest};
use prost::{DecodeError, EncodeError, Message};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// What goes out.
pub trait Outgoing: Send + 'static {
    fn put(self, dst: &mut EncodeBuf<'_>) -> Result<(), EncodeError>;
}

/// What comes back.
pub trait Incoming: Send + Sized + 'static {
    fn take(src: &mut DecodeBuf<'_>) -> Result<Self, DecodeError>;
}

/// A query page request, encoded with prost on the way out.
impl Outgoing for QueryRequest {
    fn put(self, dst: &mut EncodeBuf<'_>) -> Result<(), EncodeError> {
        self.encode(dst)
    }
}

/// A request encoded before the clock started: its bytes, copied as they are.
impl Outgoing for Bytes {
    fn put(self, dst: &mut EncodeBuf<'_>) -> Result<(), EncodeError> {
        dst.put_slice(&self);
        Ok(())
    }
}

/// An answer's raw bytes, not decoded.
impl Incoming for Bytes {
    fn take(src: &mut DecodeBuf<'_>) -> Result<Self, DecodeError> {
        Ok(src.copy_to_bytes(src.remaining()))
    }
}

/// An insert's answer (small: status, ids, counts), decoded to check it.
impl Incoming for MutationResult {
    fn take(src: &mut DecodeBuf<'_>) -> Result<Self, DecodeError> {
        MutationResult::decode(src)
    }
}

/// Sends `E`, receives `D`.
pub struct RawCodec<E, D>(PhantomData<fn(E) -> D>);

impl<E, D> Default for RawCodec<E, D> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

pub struct RawEncoder<E>(PhantomData<fn(E)>);
pub struct RawDecoder<D>(PhantomData<fn() -> D>);

impl<E: Outgoing> Encoder for RawEncoder<E> {
    type Item = E;
    type Error = Status;
    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.put(dst).map_err(|e| Status::internal(e.to_string()))
    }
}

impl<D: Incoming> Decoder for RawDecoder<D> {
    type Item = D;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        D::take(src)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

impl<E: Outgoing, D: Incoming> Codec for RawCodec<E, D> {
    type Encode = E;
    type Decode = D;
    type Encoder = RawEncoder<E>;
    type Decoder = RawDecoder<D>;
    fn encoder(&mut self) -> RawEncoder<E> {
        RawEncoder(PhantomData)
    }
    fn decoder(&mut self) -> RawDecoder<D> {
        RawDecoder(PhantomData)
    }
}
