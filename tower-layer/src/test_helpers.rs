//! Fakes shared by the unit tests.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::sync::mpsc;

/// A body yielding a fixed list of frames.
pub(crate) struct FramesBody(VecDeque<Result<Frame<Bytes>, std::io::Error>>);

impl FramesBody {
    pub(crate) fn new(frames: Vec<Result<Frame<Bytes>, std::io::Error>>) -> Self {
        FramesBody(frames.into())
    }
}

impl Body for FramesBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(self.0.pop_front())
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }
}

/// A streaming body fed by a channel: each message is one data frame; closing the sender ends it.
pub(crate) struct ChannelBody(pub(crate) mpsc::UnboundedReceiver<Bytes>);

impl ChannelBody {
    pub(crate) fn new() -> (mpsc::UnboundedSender<Bytes>, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, ChannelBody(rx))
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

pub(crate) fn assert_send_sync<T: Send + Sync>() {}
