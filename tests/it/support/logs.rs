//! Capture what `tracing` logs on the current thread (current-thread tokio tests).
//!
//! Why not just `tracing::subscriber::set_default`: while only one dispatcher is
//! registered, tracing-core 0.1 computes a callsite's interest from the default
//! dispatcher of whichever thread hits that callsite first. When a parallel test
//! without a subscriber gets there first, the callsite is cached as "never" and the
//! capturing test misses the event. Keeping a second, do-nothing dispatcher
//! registered for the whole run makes tracing ask every live dispatcher instead.

use std::sync::{Arc, Mutex, OnceLock};

use tracing::Dispatch;
use tracing::subscriber::{DefaultGuard, NoSubscriber};

/// Everything logged on this thread while the guard from [`LogCapture::install`] lives.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Start capturing (DEBUG and above) on this thread.
    pub fn install(&self) -> DefaultGuard {
        static KEEP_ALIVE: OnceLock<Dispatch> = OnceLock::new();
        KEEP_ALIVE.get_or_init(|| Dispatch::new(NoSubscriber::default()));
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// The captured text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
