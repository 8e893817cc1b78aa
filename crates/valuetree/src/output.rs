//! Standard output for reports.
//!
//! Commands write their report with [`say!`]; it is printed when the command ends. A reader
//! that goes away early (`valuetree org | head`) is not an error: the rest is dropped quietly
//! instead of the panic `println!` gives on a closed pipe.

use std::cell::RefCell;
use std::io::Write;

thread_local! {
    static REPORT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

pub fn push_line(line: std::fmt::Arguments<'_>) {
    REPORT.with(|report| {
        let mut report = report.borrow_mut();
        // Writing into memory cannot fail.
        let _ = report.write_fmt(line);
        report.push(b'\n');
    });
}

/// Adds `value` as pretty-printed JSON and a line break, serialised straight into the report
/// (a report of hundreds of megabytes is not built as a string first and then copied).
pub fn push_json<T: serde::Serialize>(value: &T) -> serde_json::Result<()> {
    REPORT.with(|report| {
        let mut report = report.borrow_mut();
        serde_json::to_writer_pretty(&mut *report, value)?;
        report.push(b'\n');
        Ok(())
    })
}

/// Writes what the command said; a closed pipe is fine, other errors are reported.
pub fn flush() -> std::io::Result<()> {
    let text = REPORT.with(|report| std::mem::take(&mut *report.borrow_mut()));
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&text).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// True if `error` comes from writing to a reader that went away.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { $crate::output::push_line(format_args!($($arg)*)) };
}
