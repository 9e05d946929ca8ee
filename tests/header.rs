//! include/equipot.h is generated from src/ffi by cbindgen and committed.
//! This test fails when regenerating it would change it; run with
//! EQUIPOT_UPDATE_HEADER=1 to rewrite it.

#[test]
fn header_is_up_to_date() {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{root}/cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen failed")
        .write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    // Everything the header defines must carry the library's prefix.
    for line in generated.lines() {
        if let Some(name) = line.strip_prefix("#define ").and_then(|rest| rest.split_whitespace().next()) {
            assert!(
                name.starts_with("EQP_") || name == "EQUIPOT_H",
                "the header exports `{name}` without the EQP_ prefix: add it to [export] exclude in cbindgen.toml"
            );
        }
    }
    let path = format!("{root}/include/equipot.h");
    if std::env::var_os("EQUIPOT_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/equipot.h is out of date: run `EQUIPOT_UPDATE_HEADER=1 cargo test --test header`"
    );
}

/// The Python and Fortran bindings mirror EQP_ABI_VERSION (they cannot
/// include the header): a bump must reach them too.
#[test]
fn bindings_mirror_the_abi_version() {
    let root = env!("CARGO_MANIFEST_DIR");
    let version = equipot::ffi::EQP_ABI_VERSION;
    for (file, line) in [
        ("bindings/python/equipot/_capi.py", format!("ABI_VERSION = {version}\n")),
        ("bindings/fortran/equipot.f90", format!(":: EQP_ABI_VERSION = {version}\n")),
    ] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        assert!(text.contains(&line), "{file} must mirror EQP_ABI_VERSION = {version} (`{}`)", line.trim());
    }
}
