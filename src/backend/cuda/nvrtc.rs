//! NVRTC (opened at run time): kernels compiled for one architecture with one
//! model's constants, cached in memory by (specialization, architecture).

use super::kernels::{Specialization, HEADERS};
use super::library::{missing_symbols, no_panic, open_first};
use crate::Error;
use cudarc::nvrtc::sys;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// Environment variable naming libnvrtc: the library file, or the folder
/// that holds it (the `nvidia-cuda-nvrtc` wheel's `nvidia/cu13/lib`). Unset:
/// the loader's search path (libnvrtc.so.13, then libnvrtc.so).
pub const NVRTC_ENV: &str = "EQUIPOT_NVRTC";

/// The NVRTC functions compilation calls.
const NVRTC_SYMBOLS: [&str; 11] = [
    "nvrtcVersion",
    "nvrtcGetErrorString",
    "nvrtcCreateProgram",
    "nvrtcCompileProgram",
    "nvrtcDestroyProgram",
    "nvrtcGetProgramLogSize",
    "nvrtcGetProgramLog",
    "nvrtcGetPTXSize",
    "nvrtcGetPTX",
    "nvrtcGetCUBINSize",
    "nvrtcGetCUBIN",
];

/// What to compile for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// PTX for compute capability N/10.N%10 (`compute_90`): portable, the
    /// driver JIT-compiles it (only if its PTX ISA is not newer than the driver's).
    Ptx(u32),
    /// SASS for exactly that GPU (`sm_90`): loads on any driver of the major version.
    Cubin(u32),
}

impl Arch {
    fn option(self) -> String {
        match self {
            Arch::Ptx(cc) => format!("--gpu-architecture=compute_{cc}"),
            Arch::Cubin(cc) => format!("--gpu-architecture=sm_{cc}"),
        }
    }
}

/// A compiled specialization.
#[derive(Debug)]
pub enum Image {
    /// PTX text.
    Ptx(String),
    /// An ELF cubin.
    Cubin(Vec<u8>),
}

/// NVRTC's (major, minor) version, opening it on the first call; the error
/// names what is missing (`Error::Unsupported`).
pub fn nvrtc_version() -> crate::Result<(i32, i32)> {
    static VERSION: OnceLock<Result<(i32, i32), String>> = OnceLock::new();
    VERSION.get_or_init(open_nvrtc).clone().map_err(Error::Unsupported)
}

fn candidates() -> Result<Vec<String>, String> {
    let Some(given) = std::env::var_os(NVRTC_ENV) else {
        return Ok(vec!["libnvrtc.so.13".into(), "libnvrtc.so".into()]);
    };
    let path = Path::new(&given);
    if !path.is_dir() {
        return Ok(vec![path.to_string_lossy().into_owned()]);
    }
    // The folder's libnvrtc.so.<major> (not libnvrtc-builtins, not the static libraries).
    let mut found: Vec<String> = std::fs::read_dir(path)
        .map_err(|e| format!("{NVRTC_ENV}={}: {e}", path.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.strip_prefix("libnvrtc.so.").is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if found.is_empty() {
        return Err(format!("no libnvrtc.so.<N> in {NVRTC_ENV}={}", path.display()));
    }
    found.sort();
    Ok(found)
}

/// Opens libnvrtc ourselves (so that a path can be given) and then makes
/// sure cudarc, which opens it by soname, gets the same library.
fn open_nvrtc() -> Result<(i32, i32), String> {
    let names = candidates()?;
    let (lib, found) = open_first(&names)
        .map_err(|tried| format!("no NVRTC (libnvrtc not found; set {NVRTC_ENV}; tried {})", tried.join("; ")))?;
    let missing = missing_symbols(lib, &NVRTC_SYMBOLS);
    if !missing.is_empty() {
        return Err(format!("NVRTC {found} lacks {}", missing.join(", ")));
    }
    type VersionFn = unsafe extern "C" fn(*mut c_int, *mut c_int) -> c_int;
    let mut ours = (0, 0);
    // SAFETY: nvrtcVersion's C signature; it writes two ints.
    let status = unsafe { lib.get::<VersionFn>(b"nvrtcVersion").map_err(|e| e.to_string())?(&mut ours.0, &mut ours.1) };
    if status != 0 {
        return Err(format!("NVRTC {found}: nvrtcVersion failed ({status})"));
    }
    let theirs = no_panic("NVRTC", || {
        let mut v = (0, 0);
        // SAFETY: as above, through cudarc's binding.
        unsafe { sys::nvrtcVersion(&mut v.0, &mut v.1) };
        Ok(v)
    })
    .map_err(|e| format!("NVRTC {found} was opened, but cudarc did not find it by its soname: {e}"))?;
    if theirs != ours {
        return Err(format!(
            "NVRTC {found} is version {}.{}, but cudarc opened another one, version {}.{} (an older libnvrtc.so on the search path?)",
            ours.0, ours.1, theirs.0, theirs.1
        ));
    }
    Ok(ours)
}

/// Compiles specializations through NVRTC and keeps the results: a model
/// loaded twice, or two models with the same sizes, compile once.
pub struct KernelCompiler {
    cache: Mutex<HashMap<(Specialization, Arch), Arc<Image>>>,
}

impl KernelCompiler {
    /// A compiler with an empty cache; `Error::Unsupported` without NVRTC.
    pub fn new() -> crate::Result<KernelCompiler> {
        nvrtc_version()?;
        Ok(KernelCompiler { cache: Mutex::new(HashMap::new()) })
    }

    /// `spec` compiled for `arch`, from the cache when it was compiled before.
    pub fn compile(&self, spec: &Specialization, arch: Arch) -> crate::Result<Arc<Image>> {
        let key = (spec.clone(), arch);
        if let Some(image) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(image.clone());
        }
        // Compiled outside the lock (seconds); two threads may both compile a
        // new key, and the first result stays.
        let image = Arc::new(no_panic("NVRTC", || compile(spec, arch))?);
        Ok(self.cache.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(image).clone())
    }

    /// How many specializations are cached.
    pub fn cached(&self) -> usize {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Destroys an NVRTC program however compilation ends.
struct Program(sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by nvrtcCreateProgram, destroyed once.
        unsafe { sys::nvrtcDestroyProgram(&mut self.0) };
    }
}

fn check(status: sys::nvrtcResult, what: &str, context: &dyn Fn() -> String) -> crate::Result<()> {
    if status == sys::nvrtcResult::NVRTC_SUCCESS {
        return Ok(());
    }
    // SAFETY: NVRTC returns a static string for every status.
    let text = unsafe { CStr::from_ptr(sys::nvrtcGetErrorString(status)) }.to_string_lossy().into_owned();
    Err(Error::Unsupported(format!("NVRTC {what}: {text}{}", context())))
}

fn compile(spec: &Specialization, arch: Arch) -> crate::Result<Image> {
    let kernel = spec.kernel();
    let cstring = |s: &str| CString::new(s).map_err(|_| Error::Internal(format!("NUL in kernel text {}", kernel.file())));
    let source = cstring(kernel.source())?;
    let name = cstring(kernel.file())?;
    let header_texts = HEADERS.iter().map(|(_, text)| cstring(text)).collect::<crate::Result<Vec<_>>>()?;
    let header_names = HEADERS.iter().map(|(name, _)| cstring(name)).collect::<crate::Result<Vec<_>>>()?;
    let text_ptrs: Vec<*const c_char> = header_texts.iter().map(|s| s.as_ptr()).collect();
    let name_ptrs: Vec<*const c_char> = header_names.iter().map(|s| s.as_ptr()).collect();
    let mut options = vec![arch.option(), "--std=c++17".to_string(), "-default-device".to_string()];
    options.extend(spec.options());
    let what = format!("{} {} {}", kernel.file(), arch.option(), spec.options().join(" "));
    let no_log = || String::new();

    let mut program = Program(std::ptr::null_mut());
    // SAFETY: every pointer points into a CString that outlives the call.
    let status = unsafe {
        sys::nvrtcCreateProgram(
            &mut program.0,
            source.as_ptr(),
            name.as_ptr(),
            HEADERS.len() as c_int,
            text_ptrs.as_ptr(),
            name_ptrs.as_ptr(),
        )
    };
    check(status, &format!("could not create the program for {what}"), &no_log)?;
    let option_strings = options.iter().map(|o| cstring(o)).collect::<crate::Result<Vec<_>>>()?;
    let option_ptrs: Vec<*const c_char> = option_strings.iter().map(|s| s.as_ptr()).collect();
    // SAFETY: as above.
    let status = unsafe { sys::nvrtcCompileProgram(program.0, option_ptrs.len() as c_int, option_ptrs.as_ptr()) };
    check(status, &format!("could not compile {what}"), &|| format!("\n{}", log(&program)))?;
    let bytes = |size: unsafe fn(sys::nvrtcProgram, *mut usize) -> sys::nvrtcResult,
                 get: unsafe fn(sys::nvrtcProgram, *mut c_char) -> sys::nvrtcResult|
     -> crate::Result<Vec<u8>> {
        let mut n = 0usize;
        // SAFETY: NVRTC writes the size, then exactly that many bytes.
        check(unsafe { size(program.0, &mut n) }, &format!("output size of {what}"), &no_log)?;
        let mut out = vec![0u8; n];
        check(unsafe { get(program.0, out.as_mut_ptr().cast()) }, &format!("output of {what}"), &no_log)?;
        Ok(out)
    };
    Ok(match arch {
        Arch::Ptx(_) => {
            let mut text = bytes(sys::nvrtcGetPTXSize, sys::nvrtcGetPTX)?;
            text.pop_if(|b| *b == 0); // NVRTC counts the terminating NUL
            Image::Ptx(String::from_utf8(text).map_err(|_| Error::Internal(format!("NVRTC PTX of {what} is not UTF-8")))?)
        }
        Arch::Cubin(_) => Image::Cubin(bytes(sys::nvrtcGetCUBINSize, sys::nvrtcGetCUBIN)?),
    })
}

/// The compiler's log (warnings or errors), for an error message.
fn log(program: &Program) -> String {
    let mut n = 0usize;
    // SAFETY: as in `compile`.
    if unsafe { sys::nvrtcGetProgramLogSize(program.0, &mut n) } != sys::nvrtcResult::NVRTC_SUCCESS {
        return "(no log)".into();
    }
    let mut text = vec![0u8; n.max(1)];
    if unsafe { sys::nvrtcGetProgramLog(program.0, text.as_mut_ptr().cast()) } != sys::nvrtcResult::NVRTC_SUCCESS {
        return "(no log)".into();
    }
    String::from_utf8_lossy(&text).trim_end_matches('\0').to_string()
}
