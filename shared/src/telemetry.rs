//! Tracing set-up, once per process. JSON lines (CloudWatch reads them as structured logs);
//! `RUST_LOG` filters. Secrets are wrapped in `secrecy` types, so no log line can print them.

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .without_time() // Lambda stamps every line itself
        .with_target(true)
        .try_init();
}

/// The CPU time this process has used so far (user + system; `clock_gettime` with
/// `CLOCK_PROCESS_CPUTIME_ID`, nanosecond resolution). Zero where that clock is not available.
/// A Lambda process handles one invocation at a time, so the difference over a phase is that
/// phase's CPU.
pub fn process_cpu() -> std::time::Duration {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            tv_sec: i64,
            tv_nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: std::ffi::c_int, tp: *mut Timespec) -> std::ffi::c_int;
        }
        // <time.h>
        const CLOCK_PROCESS_CPUTIME_ID: std::ffi::c_int = 2;
        let mut ts = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec (two 64-bit fields on 64-bit Linux, the only
        // targets we build) into the valid pointer given and has no other effect.
        let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        if rc == 0 {
            return std::time::Duration::new(
                ts.tv_sec.max(0) as u64,
                ts.tv_nsec.clamp(0, 999_999_999) as u32,
            );
        }
        std::time::Duration::ZERO
    }
    #[cfg(not(target_os = "linux"))]
    {
        std::time::Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    fn cpu_time_moves_forward_with_work() {
        let a = super::process_cpu();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(super::process_cpu() > a);
    }
}
