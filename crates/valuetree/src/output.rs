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

/// Adds one line per item, each written by `line` (without its line break), in order. The
/// lines are made in parts on every core: a company's report has hundreds of thousands of
/// rows, and formatting their numbers one after another took as long as a pass of the fit.
pub fn push_lines<T: Sync>(items: &[T], line: impl Fn(&mut Vec<u8>, &T) + Sync) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Below this many rows per part, a thread costs more than it saves.
    const ROWS_PER_PART: usize = 20_000;
    let parts = cores.min(items.len() / ROWS_PER_PART).max(1);
    let write_part = |part: &[T]| {
        let mut text = Vec::new();
        for item in part {
            line(&mut text, item);
            text.push(b'\n');
        }
        text
    };
    let texts: Vec<Vec<u8>> = if parts == 1 {
        vec![write_part(items)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .chunks(items.len().div_ceil(parts))
                .map(|part| scope.spawn(|| write_part(part)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    REPORT.with(|report| {
        let mut report = report.borrow_mut();
        for text in texts {
            report.extend_from_slice(&text);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_made_in_parts_come_out_in_the_order_of_their_items() {
        let items: Vec<u32> = (0..50_001).collect();
        push_lines(&items, |out, i| {
            let _ = write!(out, "row {i}");
        });
        let text = REPORT.with(|report| std::mem::take(&mut *report.borrow_mut()));
        let expected: String = items.iter().map(|i| format!("row {i}\n")).collect();
        assert_eq!(String::from_utf8(text).expect("text"), expected);
    }
}
