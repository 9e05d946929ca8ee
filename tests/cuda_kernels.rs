//! The CUDA seam without a GPU: every kernel of cuda/ compiled through NVRTC
//! (opened at run time, as at model load) in SevenNet-0's and a MACE
//! fixture's specialization, for compute_80 and compute_90, with the entry
//! points checked in the PTX; the in-memory cache; a compile error's log;
//! and device discovery, which on a machine without a driver or a GPU must
//! refuse a CUDA workspace with the reason, while the CPU keeps working.
//!
//! NVRTC: `EQUIPOT_NVRTC` names libnvrtc or its folder (scripts/ci/35-cuda.sh
//! points it at the nvidia-cuda-nvrtc wheel); without one the NVRTC tests
//! print "skipped: no libnvrtc", unless `EQUIPOT_REQUIRE_NVRTC=1` (CI), where
//! they fail.
#![cfg(feature = "cuda")]

use equipot::backend::cuda::{nvrtc_version, Arch, CudaDevice, EdgeEnvelope, Image, Kernel, KernelCompiler, Specialization};
use equipot::backend::{Device, CUDA_NOT_IMPLEMENTED};
use equipot::nn::{LinearSpec, PathNormalization, UvuTensorProduct};
use equipot::so3::Irreps;
use equipot::{Error, Precision, Workspace};
use std::sync::Arc;

/// The compiler, or None after printing why the test is skipped.
fn compiler() -> Option<KernelCompiler> {
    match KernelCompiler::new() {
        Ok(c) => {
            let (major, minor) = nvrtc_version().unwrap();
            println!("NVRTC {major}.{minor}");
            Some(c)
        }
        Err(e) if std::env::var("EQUIPOT_REQUIRE_NVRTC").as_deref() != Ok("1") => {
            assert!(matches!(e, Error::Unsupported(_)), "{e}");
            println!("skipped: no libnvrtc ({e})");
            None
        }
        Err(e) => panic!("EQUIPOT_REQUIRE_NVRTC=1 but NVRTC cannot be used: {e}"),
    }
}

fn conv(kernel: Kernel, precision: Precision, x: &str, sh: &str, pieces: Option<usize>) -> Specialization {
    let (x, sh) = (Irreps::parse(x).unwrap(), Irreps::parse(sh).unwrap());
    let tp = UvuTensorProduct::sevenn(&x, &sh, &x).unwrap();
    Specialization::conv(kernel, precision, &tp, pieces).unwrap()
}

fn linear(precision: Precision, irreps_in: &str, irreps_out: &str, biases: bool) -> Specialization {
    let (i, o) = (Irreps::parse(irreps_in).unwrap(), Irreps::parse(irreps_out).unwrap());
    Specialization::linear(precision, &LinearSpec::new(&i, &o, None, biases, PathNormalization::Element).unwrap()).unwrap()
}

/// SevenNet-0 (docs/sevennet-architecture.md: lmax 2, 8 Bessel, XPLOR;
/// block 1's 128x0e+64x1e+32x2e, 960 table columns in 3 pieces) and the MACE
/// fixture models (lmax 3, 8 Bessel, p = 5; mace-torch fixture case 4 of the
/// symmetric contraction), every source at least once.
fn specializations(precision: Precision) -> Vec<(&'static str, Specialization)> {
    let sevennet_x = "128x0e+64x1e+32x2e";
    let sevennet_sh = "1x0e+1x1e+1x2e";
    let mace_x = "16x0e+16x1o";
    let mace_sh = "1x0e+1x1o+1x2e+1x3o";
    vec![
        ("sevennet-0", Specialization::edge_stage(precision, 2, 8, EdgeEnvelope::Xplor, true).unwrap()),
        ("sevennet-0", Specialization::neighbors()),
        ("sevennet-0", conv(Kernel::Conv, precision, sevennet_x, sevennet_sh, None)),
        ("sevennet-0", conv(Kernel::ConvFast, precision, sevennet_x, sevennet_sh, None)),
        ("sevennet-0", conv(Kernel::ConvTable, precision, sevennet_x, sevennet_sh, Some(3))),
        ("sevennet-0", Specialization::radial_table(precision, 3, 960).unwrap()),
        ("sevennet-0", linear(precision, "224x0e+384x1e+352x2e", "224x0e+64x1e+32x2e", false)),
        ("sevennet-0", Specialization::gate(precision, 576, 480).unwrap()),
        ("mace", Specialization::edge_stage(precision, 3, 8, EdgeEnvelope::Polynomial { p: 5 }, true).unwrap()),
        ("mace", conv(Kernel::Conv, precision, mace_x, mace_sh, None)),
        ("mace", conv(Kernel::ConvFast, precision, mace_x, mace_sh, None)),
        ("mace", conv(Kernel::ConvTable, precision, mace_x, mace_sh, Some(2))),
        ("mace", linear(precision, "16x0e+8x1o+4x2e", "8x0e+4x1o", true)),
        ("mace", Specialization::symmetric_contraction(precision, 16, 8, 4).unwrap()),
    ]
}

#[test]
fn every_kernel_compiles_for_sevennet0_and_mace_with_its_entry_points() {
    let Some(compiler) = compiler() else { return };
    let mut compiled = 0;
    for precision in [Precision::F64, Precision::F32] {
        let specs = specializations(precision);
        for kernel in Kernel::ALL {
            assert!(specs.iter().any(|(_, s)| s.kernel() == kernel), "no specialization of {}", kernel.file());
        }
        for (model, spec) in &specs {
            for cc in [80, 90] {
                let image = compiler.compile(spec, Arch::Ptx(cc)).unwrap_or_else(|e| panic!("{model}: {e}"));
                let Image::Ptx(ptx) = &*image else { panic!("{model} {}: PTX asked, got a cubin", spec.kernel().file()) };
                assert!(ptx.contains(&format!(".target sm_{cc}")), "{model} {}: no .target sm_{cc}", spec.kernel().file());
                for entry in spec.kernel().entry_points() {
                    assert!(
                        ptx.contains(&format!(".entry {entry}(")),
                        "{model} {} {precision:?} compute_{cc}: no entry point {entry}",
                        spec.kernel().file()
                    );
                }
                let entries = ptx.matches(".entry ").count();
                assert_eq!(entries, spec.kernel().entry_points().len(), "{model} {}: entry points", spec.kernel().file());
                compiled += 1;
            }
        }
    }
    // Neighbor search is float64 in both precisions: one specialization, cached once.
    assert_eq!(compiler.cached(), compiled - 2);
    println!("{compiled} compilations, {} cached specializations", compiler.cached());
}

#[test]
fn compiled_kernels_are_cached_and_cubins_are_elf() {
    let Some(compiler) = compiler() else { return };
    let spec = Specialization::edge_stage(Precision::F32, 2, 8, EdgeEnvelope::Xplor, true).unwrap();
    let first = compiler.compile(&spec, Arch::Cubin(90)).unwrap();
    let again = compiler.compile(&spec, Arch::Cubin(90)).unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    let Image::Cubin(cubin) = &*first else { panic!("cubin asked, got PTX") };
    assert_eq!(&cubin[..4], b"\x7fELF");
    // Another architecture, precision or constant is another entry.
    compiler.compile(&spec, Arch::Cubin(80)).unwrap();
    let f64_spec = Specialization::edge_stage(Precision::F64, 2, 8, EdgeEnvelope::Xplor, true).unwrap();
    compiler.compile(&f64_spec, Arch::Cubin(90)).unwrap();
    let other = Specialization::edge_stage(Precision::F32, 2, 8, EdgeEnvelope::Xplor, false).unwrap();
    compiler.compile(&other, Arch::Cubin(90)).unwrap();
    assert_eq!(compiler.cached(), 4);
}

#[test]
fn a_compile_error_is_an_error_with_the_log() {
    let Some(compiler) = compiler() else { return };
    // The edge stage without its constants: the source's #error.
    let e = compiler.compile(&Specialization::new(Kernel::EdgeStage, Precision::F64), Arch::Ptx(90)).unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e}");
    let text = e.to_string();
    assert!(text.contains("could not compile edge_stage.cu") && text.contains("#error") && text.contains("must be defined"), "{text}");
    assert_eq!(compiler.cached(), 0);
}

#[test]
fn constants_that_are_not_one_token_are_refused() {
    let spec = || Specialization::new(Kernel::Gate, Precision::F32);
    for (name, value) in [("EQP_GATE_DIN", "4 -DX=1"), ("EQP_GATE_DIN", ""), ("EQP_GATE_DIN", "4\n"), ("GATE_DIN", "4"), ("EQP_", "4"), ("EQP_REAL", "float"), ("EQP_gate", "4")] {
        let e = spec().define(name, value).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{name}={value:?}: {e}");
    }
    assert!(spec().define("EQP_GATE_DIN", 576).is_ok());
    let sh = Irreps::parse("2x0e+1x1e").unwrap();
    let x = Irreps::parse("4x0e").unwrap();
    let tp = UvuTensorProduct::sevenn(&x, &sh, &x).unwrap();
    assert!(matches!(Specialization::conv(Kernel::Conv, Precision::F64, &tp, None), Err(Error::Unsupported(_))));
    assert!(matches!(Specialization::conv(Kernel::Gate, Precision::F64, &tp, None), Err(Error::InvalidArgument(_))));
}

/// What a CUDA request may be told: the reason discovery failed, or, where
/// a device exists, that evaluation is not implemented.
fn is_a_cuda_refusal(e: &Error) -> bool {
    let text = e.to_string();
    matches!(e, Error::Unsupported(_))
        && ["no CUDA driver (libcuda.so.1 not found", "no CUDA device", "but only", CUDA_NOT_IMPLEMENTED]
            .iter()
            .any(|reason| text.contains(reason))
}

#[test]
fn discovery_refuses_a_cuda_workspace_with_the_reason_and_the_cpu_works() {
    match CudaDevice::open(0) {
        Ok(device) => {
            println!("found {} ({:?}, {} bytes)", device.name(), device.compute_capability(), device.total_memory());
            assert!(device.compute_capability().0 >= 5 && device.total_memory() > 0);
            let e = CudaDevice::open(4096).unwrap_err();
            assert!(e.to_string().contains("CUDA device ordinal 4096 but only"), "{e}");
        }
        Err(e) => {
            println!("no CUDA device here: {e}");
            assert!(is_a_cuda_refusal(&e), "{e}");
            assert!(matches!(CudaDevice::count(), Err(Error::Unsupported(_))));
        }
    }
    for ordinal in [0, 3] {
        let e = Workspace::on_device(Device::Cuda { ordinal }, 1).err().expect("a CUDA workspace was created");
        assert!(is_a_cuda_refusal(&e), "cuda:{ordinal}: {e}");
    }
    // The CPU after the refusals.
    let ws = Workspace::on_device(Device::Cpu, 1).unwrap();
    assert!(ws.memory_limit() > 0);
}
