//! The `llm-contract` binary: the command line is the library's [`llm_contract::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    llm_contract::cli::main()
}

/// mimalloc: it allocates and frees in a fraction of the system allocator's instructions, and
/// a run is mostly small allocations (JSON values, strings).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's options, set before the first allocation (from the ELF initializers, ahead of the
/// Rust runtime): commit arena memory only as it is used and give freed pages back at once, so
/// the peak resident memory is what the run holds (the defaults keep about half as much again).
/// Set at the top of `main` instead, they come too late: measured, a 10,000-frame stream's peak
/// went from 15.6 to 25.2 MiB (docs/performance.md).
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static ALLOCATOR_OPTIONS: extern "C" fn() = allocator_options;

#[cfg(target_os = "linux")]
extern "C" fn allocator_options() {
    // The option numbers of mimalloc 2's `mi_option_e`.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: plain option setters; they run before main, on the only thread there is.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}
