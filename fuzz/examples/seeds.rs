//! Write every fuzz target's seeds as corpus directories, `DIR/<target>/seed-<n>`. DIR defaults
//! to `fuzz/corpus`, where `cargo fuzz run TARGET` looks. Seed files are rewritten; other files
//! there (inputs found by fuzzing) are kept.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds -- fuzz/corpus
//! ```

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"),
        PathBuf::from,
    );
    for target in rds_iam_fuzz::seeds::TARGETS {
        let target_dir = dir.join(target.name);
        std::fs::create_dir_all(&target_dir)?;
        let seeds = (target.seeds)();
        for (n, seed) in seeds.iter().enumerate() {
            std::fs::write(target_dir.join(format!("seed-{n}")), seed)?;
        }
        println!(
            "{}: {} seeds in {}",
            target.name,
            seeds.len(),
            target_dir.display()
        );
    }
    Ok(())
}
