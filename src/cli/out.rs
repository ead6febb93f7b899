//! Standard output and error that stop printing once their reader is gone: `run | head -2`
//! closes the pipe after two lines, and `println!` would then panic ("Broken pipe", exit 101)
//! before the reports are written. Printing stops; the run goes on and exits with its own code.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Writes to `w` unless `gone` says its reader left; a failed write (a closed pipe, a full disk)
/// marks it gone. Never panics.
fn write(gone: &AtomicBool, w: &mut dyn Write, args: std::fmt::Arguments<'_>) {
    if gone.load(Ordering::Relaxed) {
        return;
    }
    if w.write_fmt(args).and_then(|()| w.flush()).is_err() {
        gone.store(true, Ordering::Relaxed);
    }
}

/// Standard output, for [`outln!`] and [`out!`].
pub fn stdout(args: std::fmt::Arguments<'_>) {
    write(&STDOUT_GONE, &mut std::io::stdout().lock(), args);
}

/// Standard error, for [`errln!`].
pub fn stderr(args: std::fmt::Arguments<'_>) {
    write(&STDERR_GONE, &mut std::io::stderr().lock(), args);
}

/// A writer over standard output with the same rule, for a buffered writer's batches.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !STDOUT_GONE.load(Ordering::Relaxed) {
            if let Err(e) = std::io::stdout().lock().write_all(buf) {
                STDOUT_GONE.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !STDOUT_GONE.load(Ordering::Relaxed) && std::io::stdout().lock().flush().is_err() {
            STDOUT_GONE.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// `println!` that stops quietly once standard output is closed.
macro_rules! outln {
    () => { $crate::cli::out::stdout(format_args!("\n")) };
    ($($t:tt)*) => { $crate::cli::out::stdout(format_args!("{}\n", format_args!($($t)*))) };
}

/// `print!` that stops quietly once standard output is closed.
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::out::stdout(format_args!($($t)*)) };
}

/// `eprintln!` that stops quietly once standard error is closed.
macro_rules! errln {
    ($($t:tt)*) => { $crate::cli::out::stderr(format_args!("{}\n", format_args!($($t)*))) };
}

pub(crate) use {errln, out, outln};
