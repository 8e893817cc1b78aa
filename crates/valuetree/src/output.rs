//! Standard output for reports.
//!
//! Commands write their report with [`say!`]; it is printed when the command ends. A reader
//! that goes away early (`valuetree org | head`) is not an error: the rest is dropped quietly
//! instead of the panic `println!` gives on a closed pipe.

use std::cell::RefCell;
use std::io::Write;

thread_local! {
    static REPORT: RefCell<String> = const { RefCell::new(String::new()) };
}

pub fn push_line(line: std::fmt::Arguments<'_>) {
    REPORT.with(|report| {
        let mut report = report.borrow_mut();
        let _ = std::fmt::Write::write_fmt(&mut *report, line);
        report.push('\n');
    });
}

/// Writes what the command said; a closed pipe is fine, other errors are reported.
pub fn flush() -> std::io::Result<()> {
    let text = REPORT.with(|report| std::mem::take(&mut *report.borrow_mut()));
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
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
