//! The process's allocator: mimalloc, without transparent huge pages.
//!
//! Why mimalloc: the ledger's hot paths (import, verify) allocate many small strings, often
//! freed on another thread; glibc's allocator spent a fifth of verify's time there.
//!
//! Why without huge pages (the crate's `no_thp` feature, in Cargo.toml): by default mimalloc
//! asks the kernel for transparent huge pages on its large regions (`MADV_HUGEPAGE`), and on
//! the common setting (`defrag = madvise`) the kernel then compacts memory on the spot when it
//! has no free two-megabyte page to hand. The engines free a phase's working memory and
//! allocate the next phase's straight after, so a company's calibration faulted in fresh huge
//! pages again and again, and some runs spent more than a second of system time compacting and
//! zeroing while others did not: its time went up and down with the state of the machine's
//! memory. A server stalls the same way in the middle of a request. Without them, faults are
//! small pages and cost the same in every run. Measured in docs/benchmarks.md (calibration,
//! session 20); the choice in docs/decisions.md ("Dependencies chosen").

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
