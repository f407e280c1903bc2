//! `carrot`: the command line of the `carrot_experiments` library.

/// mimalloc instead of glibc's malloc. Rapier allocates and frees small buffers every step of
/// every world, and glibc's bins scatter them (and consolidate them, at a cost) once many
/// envs' worlds share the heap. Measured on one thread (`carrot bench envs`, interleaved
/// rounds on a 2-core AMD EPYC VM): driving with 10 vehicles 3-14% faster at 128 envs
/// (medians of 3-11 rounds), mountain car 40-55% faster at 512 envs, the rest within noise;
/// peak memory grows (learner at 65,536 x 256: about 306 MB against 287 MB). The allocator
/// never changes a result: same configs give the same bits.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    carrot_experiments::cli_main()
}
