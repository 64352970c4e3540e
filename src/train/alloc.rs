//! The C allocator's settings for training. A training step frees and re-allocates the same large
//! buffers (activations, gradients, work buffers) every step. glibc's defaults hand such memory back
//! to the kernel and fault it in again, zero-filled, on the next step: page faults and zeroing were
//! 10% of a pepr_lenet5 @64 step (`perf record`), and the resident memory swung by tens of MiB
//! between steps, which looked like growth (pepr_resnet20 @64: +48 MiB after warm-up, gone with
//! these settings). Keeping freed memory in the process, as PyTorch's caching allocator does, costs
//! nothing in peak memory: the peak is reached every step anyway.

/// Largest block glibc allocates with its own `mmap` (and unmaps on free): its documented maximum
/// on 64-bit (`HEAP_MAX_SIZE / 2`); larger requests are mmapped, as before.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 32 << 20;
/// Free memory at the top of the heap kept rather than returned to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 1 << 30;

/// Tells glibc's allocator to keep freed memory for reuse (see the module note). Call once, early,
/// before threads start. Returns whether both settings were accepted; elsewhere (other C libraries,
/// other systems) does nothing and returns false.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Safety: mallopt only changes allocator parameters; called before other threads allocate.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
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
    fn glibc_accepts_the_settings() {
        assert!(super::keep_freed_memory(), "glibc refused mallopt: the limits are outside its range");
    }
}
