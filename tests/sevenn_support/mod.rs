//! Where the SevenNet tests find the converted SevenNet checkpoints:
//! $EQUIPOT_SEVENN_MODELS when set, otherwise target/sevenn/models, which
//! scripts/prepare_sevenn_models.sh makes (fetching the sevenn wheel from PyPI
//! and converting its checkpoints without torch) the first time a test asks.
//! Also included by the unit tests of src/model/nequip.rs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

/// The folder of converted models (made on first use).
pub fn models_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("EQUIPOT_SEVENN_MODELS") {
            return dir.into();
        }
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // Test binaries may run side by side: one prepares, the others wait.
        let lock = root.join("target/sevenn.lock");
        std::fs::create_dir_all(root.join("target")).unwrap();
        let started = std::time::Instant::now();
        while std::fs::create_dir(&lock).is_err() {
            assert!(started.elapsed().as_secs() < 1800, "{} is held for 30 minutes: remove it", lock.display());
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let out = std::process::Command::new("bash").arg(root.join("scripts/prepare_sevenn_models.sh")).output();
        let _ = std::fs::remove_dir(&lock);
        let out = out.expect("cannot run scripts/prepare_sevenn_models.sh");
        assert!(
            out.status.success(),
            "scripts/prepare_sevenn_models.sh failed (it fetches the sevenn wheel from PyPI and converts its \
             checkpoints; set EQUIPOT_SEVENN_MODELS to a folder of converted models instead):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}

/// The converted model file `name` (e.g. "SevenNet_0__11Jul2024").
pub fn model_path(name: &str) -> PathBuf {
    models_dir().join(format!("{name}.eqp.safetensors"))
}
