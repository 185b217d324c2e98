//! Waking an asyncio event loop from any thread without running Python there.
//!
//! The core wakes a parked operation from whichever thread finished what it waited for: a
//! store runtime thread, or another Python thread. Its waker only records the operation's
//! id and writes one byte to a pipe; the event loop watches the pipe (`loop.add_reader`)
//! and, on its own thread, resolves the futures of the ids it drains.

use std::io::{PipeReader, PipeWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

use pyo3::prelude::*;

struct Shared {
    ready: Mutex<Vec<u64>>,
    writer: PipeWriter,
}

/// One per event loop: see the module docs.
#[pyclass(frozen, module = "flightcache._native", name = "_LoopWaker")]
pub struct LoopWaker {
    shared: Arc<Shared>,
    reader: Mutex<PipeReader>,
}

struct OpWaker {
    id: u64,
    shared: Arc<Shared>,
}

impl Wake for OpWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let mut ready = self.shared.ready.lock().unwrap_or_else(|p| p.into_inner());
        let first = ready.is_empty();
        ready.push(self.id);
        drop(ready);
        // One byte per batch: the pipe never fills, and the loop drains the whole batch.
        if first {
            let _ = (&self.shared.writer).write(&[1]);
        }
    }
}

impl LoopWaker {
    pub fn waker(&self, id: u64) -> Waker {
        Waker::from(Arc::new(OpWaker {
            id,
            shared: self.shared.clone(),
        }))
    }
}

#[pymethods]
impl LoopWaker {
    #[new]
    fn new() -> PyResult<Self> {
        let (reader, writer) = std::io::pipe()?;
        Ok(LoopWaker {
            shared: Arc::new(Shared {
                ready: Mutex::new(Vec::new()),
                writer,
            }),
            reader: Mutex::new(reader),
        })
    }

    /// The file descriptor the event loop watches.
    fn fileno(&self) -> i32 {
        self.reader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_raw_fd()
    }

    /// The ids woken since the last call. Called only when the pipe is readable, so the
    /// read never blocks; it reads before taking the ids, so that no wake is lost.
    fn drain(&self) -> Vec<u64> {
        let mut buf = [0u8; 64];
        let _ = self
            .reader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .read(&mut buf);
        std::mem::take(&mut *self.shared.ready.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
