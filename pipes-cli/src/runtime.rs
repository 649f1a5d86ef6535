//! The Milvus tools' async runtime, allocator settings and panic reports.

/// The Milvus tools' async runtime: two workers, whatever the core count (the
/// tools often share a small machine with the server they talk to). Also
/// sets the allocator up for page-sized buffers ([`keep_large_blocks_on_heap`]).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    keep_large_blocks_on_heap();
    // A damaged Parquet file is refused as corrupt; the panic the parquet
    // crate raised on the way prints nothing.
    locations::content::hook_skips_caught_panics();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Keeps blocks of a few MiB on the heap, and freed ones in the process.
///
/// Every page allocates and frees such blocks (the received message, the
/// decoded vectors, a batch to insert). With its adaptive thresholds glibc
/// hands many back to the kernel (unmapped, or trimmed off a heap), and the
/// next page faults fresh zeroed memory in again. Fixed thresholds, on a
/// 100,000-row dump of 768 floats (`--jobs 4`, Milvus 2.3.5): minor faults
/// 50,000–66,000 down to 15,000, system CPU 0.19–0.25 s down to 0.12–0.17 s,
/// for about 10 MiB more RSS. That CPU is the server's on a small machine
/// shared with it. Other C libraries: nothing to do.
fn keep_large_blocks_on_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's largest allowed mmap threshold on 64-bit.
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        /// Free memory kept at the heap's top before it is returned.
        const TRIM_THRESHOLD: libc::c_int = 64 << 20;
        // SAFETY: mallopt only sets allocator parameters, under glibc's own
        // lock; a refused value (return 0) leaves the defaults in place.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        }
    }
}
