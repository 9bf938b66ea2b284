//! The process heap, tuned for the sync worker's kind of work (glibc malloc, Linux).
//!
//! A sync allocates and frees large buffers over and over: a page of Tripletex JSON (up to a
//! megabyte), a SendMessageBatch or BatchWriteItem body (up to 256 KiB / 400 KiB). glibc serves
//! an allocation above its mmap threshold (128 KiB at start, raised only after such a block is
//! freed) with a fresh `mmap` and unmaps it on free, and returns the heap's top to the system
//! above its trim threshold; each time the next buffer touches new pages, and the kernel zeroes
//! and maps them again. On the 100 000-posting benchmark that page-fault work was about a third of
//! the worker's CPU (`perf`, docs/performance.md). A fixed, high mmap threshold and trim threshold
//! keep those buffers in the heap and reuse them; the peak resident size is unchanged (it is the
//! peak of what is live), only freed memory is kept for reuse instead of given back.
//!
//! Call [`tune_for_batch_work`] once, first thing in `main`. Elsewhere (not glibc) it does
//! nothing.

/// Blocks above this size get their own mapping (glibc's maximum on 64-bit: 32 MiB).
pub const MMAP_THRESHOLD_BYTES: i32 = 32 * 1024 * 1024;
/// Free memory at the heap's top above this size is given back to the system.
pub const TRIM_THRESHOLD_BYTES: i32 = 64 * 1024 * 1024;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::ffi::c_int;

    extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }

    // <malloc.h>
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;

    pub fn set(mmap_threshold: i32, trim_threshold: i32) -> bool {
        // SAFETY: mallopt only changes malloc's parameters; it is safe to call at any time, and
        // both values are within glibc's documented ranges.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1
                && mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1
        }
    }
}

/// Sets the fixed thresholds (see the module documentation). Returns whether they were set.
pub fn tune_for_batch_work() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        glibc::set(MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_thresholds() {
        assert!(super::tune_for_batch_work());
        // A large block is still served and usable after the change.
        let v = vec![7u8; 4 * 1024 * 1024];
        assert_eq!(
            v.iter().map(|&b| b as usize).sum::<usize>(),
            7 * 4 * 1024 * 1024
        );
    }
}
