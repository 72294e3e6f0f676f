//! hls-swarm binary: parse, run, map the outcome to an exit code.

use std::process::ExitCode;

/// mimalloc instead of glibc malloc: thousands of viewers allocate and free small buffers
/// on every request, and glibc's arena bookkeeping was a tenth of the client's CPU.
/// Metered, so `hls_swarm_heap_live_bytes` can tell a leak from allocator retention.
#[global_allocator]
static GLOBAL: hls_swarm::heap::MeteredAlloc<mimalloc::MiMalloc> =
    hls_swarm::heap::MeteredAlloc::new(mimalloc::MiMalloc);

fn main() -> ExitCode {
    let cli = match hls_swarm::config::cli::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        // clap prints help/version (exit 0) or the offending flag (exit 2).
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(hls_swarm::EXIT_FAILURE);
        }
    };
    runtime.block_on(hls_swarm::run(cli))
}
