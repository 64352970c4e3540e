//! How many CPU threads a run trains with. burn's flex backend parallelises with rayon (`par_iter`
//! in its kernels, and gemm's `Parallelism::Rayon(0)`, which asks `rayon::current_num_threads()`),
//! so a run made to execute inside its own `rayon::ThreadPool` (via `install`) uses that pool's
//! threads for that run only: nothing global changes, and two runs in one process can use
//! different counts. `None` keeps rayon's global pool: every core (or RAYON_NUM_THREADS).

use anyhow::{Result, bail};

/// The most threads a run may ask for (far above any machine pepr is meant for; a typo guard).
pub const MAX_THREADS: usize = 4096;

/// Refuses a thread count no pool can have, naming the flag.
pub fn check(threads: Option<usize>) -> Result<()> {
    match threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) if n > MAX_THREADS => bail!("--threads must be at most {MAX_THREADS}, got {n}"),
        _ => Ok(()),
    }
}

/// Runs `work` with `threads` CPU threads: in a pool of its own when a count is given, else on
/// rayon's global pool. Inside, `rayon::current_num_threads()` is the run's thread count.
pub fn with_threads<R: Send>(threads: Option<usize>, work: impl FnOnce() -> R + Send) -> Result<R> {
    check(threads)?;
    match threads {
        None => Ok(work()),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("pepr-cpu-{i}"))
                .build()
                .map_err(|e| anyhow::anyhow!("cannot start {n} training threads: {e}"))?;
            Ok(pool.install(work))
        }
    }
}

/// The thread count a run with `threads` gets (for labels before it starts).
pub fn effective(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(rayon::current_num_threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_of_its_own_and_the_global_one() {
        assert_eq!(with_threads(Some(1), rayon::current_num_threads).unwrap(), 1);
        assert_eq!(with_threads(Some(3), rayon::current_num_threads).unwrap(), 3);
        assert_eq!(with_threads(None, rayon::current_num_threads).unwrap(), rayon::current_num_threads());
        assert!(with_threads(Some(0), || ()).unwrap_err().to_string().contains("--threads"));
        assert!(check(Some(MAX_THREADS + 1)).is_err());
        assert_eq!(effective(Some(2)), 2);
    }
}
