//! A strict reader of safetensors files (the container of equipot's model
//! files, docs/model-format.md): 8-byte little-endian header length N, N
//! bytes of JSON ({name: {dtype, shape, data_offsets}, "__metadata__":
//! {str: str}}), then the raw little-endian tensor data. Every offset is
//! checked against the file, so a truncated file is an error, not a crash:
//! the tensors must tile the data section exactly (contiguous, in order of
//! their offsets, not overlapping, no byte left over), and a value is read
//! only as the type its dtype says (floats as F32/F64, indices as I64).

use crate::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// The largest header a reader accepts (docs/model-format.md): a real
/// model's header is a few tens of kB.
pub const MAX_HEADER_BYTES: u64 = 100 << 20;

/// One tensor's description.
#[derive(Clone, Debug)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    begin: usize,
    end: usize,
}

/// A parsed safetensors file, data held in memory.
pub struct SafeTensors {
    data: Vec<u8>,
    data_start: usize,
    entries: BTreeMap<String, Entry>,
    /// The string→string `__metadata__` map.
    pub metadata: BTreeMap<String, String>,
}

fn bad(what: String) -> Error {
    Error::ModelFormat(what)
}

impl SafeTensors {
    /// Parses a whole file's bytes.
    pub fn parse(data: Vec<u8>) -> Result<SafeTensors> {
        if data.len() < 8 {
            return Err(bad(format!(
                "truncated file: {} bytes, too short for a safetensors header (no header length)",
                data.len()
            )));
        }
        let n = u64::from_le_bytes(data[..8].try_into().unwrap());
        if n > MAX_HEADER_BYTES {
            return Err(bad(format!(
                "header length {n} is implausible (more than {MAX_HEADER_BYTES} bytes): not a safetensors file?"
            )));
        }
        let header_end = usize::try_from(n).ok().and_then(|n| n.checked_add(8)).filter(|&end| end <= data.len());
        let header_end = header_end.ok_or_else(|| {
            bad(format!("truncated file: header length {n} runs past the end of the {}-byte file", data.len()))
        })?;
        let header: Value = serde_json::from_slice(&data[8..header_end])
            .map_err(|e| bad(format!("safetensors header is not valid UTF-8 JSON ({e})")))?;
        let object = header.as_object().ok_or_else(|| bad("safetensors header is not a JSON object".into()))?;
        let data_len = data.len() - header_end;
        let mut entries = BTreeMap::new();
        let mut metadata = BTreeMap::new();
        for (name, value) in object {
            if name == "__metadata__" {
                let map = value.as_object().ok_or_else(|| bad("__metadata__ is not an object".into()))?;
                for (k, v) in map {
                    let v = v.as_str().ok_or_else(|| bad(format!("__metadata__[{k:?}] is not a string")))?;
                    metadata.insert(k.clone(), v.to_string());
                }
                continue;
            }
            let entry = parse_entry(name, value)?;
            if entry.end > data_len {
                return Err(bad(format!(
                    "truncated file: tensor {name:?} ends at byte {} of the data section, which has only {data_len} bytes",
                    entry.end
                )));
            }
            entries.insert(name.clone(), entry);
        }
        check_layout(&entries, data_len)?;
        Ok(SafeTensors { data, data_start: header_end, entries, metadata })
    }

    /// Names of all tensors, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Whether a tensor exists.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Shape of a tensor.
    pub fn shape(&self, name: &str) -> Result<&[usize]> {
        Ok(&self.entry(name)?.shape)
    }

    /// dtype of a tensor ("F32", "I64", ...).
    pub fn dtype(&self, name: &str) -> Result<&str> {
        Ok(&self.entry(name)?.dtype)
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.entries.get(name).ok_or_else(|| bad(format!("missing tensor {name:?}")))
    }

    fn bytes(&self, e: &Entry) -> &[u8] {
        &self.data[self.data_start + e.begin..self.data_start + e.end]
    }

    /// A floating-point tensor (dtype F32 or F64; F32 widened exactly) as
    /// f64, flattened row-major, with its shape. Every value must be finite:
    /// the first NaN or infinity is an error naming the tensor and its index.
    pub fn f64(&self, name: &str) -> Result<(Vec<f64>, Vec<usize>)> {
        let e = self.entry(name)?;
        let bytes = self.bytes(e);
        let values: Vec<f64> = match e.dtype.as_str() {
            "F64" => bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
            "F32" => bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            other => return Err(bad(format!("tensor {name:?} has dtype {other}, expected F32 or F64"))),
        };
        if let Some(k) = values.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!(
                "tensor {name:?} (shape {:?}) holds {:?} at flat index {k}",
                e.shape, values[k]
            )));
        }
        Ok((values, e.shape.clone()))
    }

    /// An integer tensor of dtype I64 (indices, shapes), flattened, with its shape.
    pub fn i64(&self, name: &str) -> Result<(Vec<i64>, Vec<usize>)> {
        let e = self.entry(name)?;
        if e.dtype != "I64" {
            return Err(bad(format!("tensor {name:?} has dtype {}, expected I64", e.dtype)));
        }
        let values = self.bytes(e).chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
        Ok((values, e.shape.clone()))
    }

    /// A floating-point tensor that must have exactly `shape` (not just as
    /// many values: a transposed matrix is an error).
    pub fn f64_shaped(&self, name: &str, shape: &[usize]) -> Result<Vec<f64>> {
        let actual = self.shape(name)?;
        if actual != shape {
            return Err(bad(format!("tensor {name:?} has shape {actual:?}, expected {shape:?}")));
        }
        Ok(self.f64(name)?.0)
    }
}

/// The tensors must tile the data section: sorted by offset, each begins
/// where the previous ended, the first at 0 and the last at its end.
fn check_layout(entries: &BTreeMap<String, Entry>, data_len: usize) -> Result<()> {
    let mut spans: Vec<(usize, usize, &str)> = entries.iter().map(|(n, e)| (e.begin, e.end, n.as_str())).collect();
    spans.sort_unstable();
    let mut at = 0;
    let mut previous: Option<&str> = None;
    for (begin, end, name) in spans {
        if begin != at {
            let after = previous.map_or("the start of the data section".to_string(), |p| format!("tensor {p:?}"));
            let how = if begin < at { "overlaps" } else { "leaves a gap after" };
            return Err(bad(format!(
                "tensor {name:?} at data offsets [{begin}, {end}] {how} {after} (which ends at byte {at}): \
                 the tensors must lie contiguously in the data section"
            )));
        }
        at = end;
        previous = Some(name);
    }
    if at != data_len {
        return Err(bad(format!(
            "the data section has {data_len} bytes but its tensors cover only {at}: {} trailing bytes",
            data_len - at
        )));
    }
    Ok(())
}

fn parse_entry(name: &str, value: &Value) -> Result<Entry> {
    let field = |k: &str| value.get(k).ok_or_else(|| bad(format!("tensor {name:?} lacks {k:?}")));
    let dtype = field("dtype")?.as_str().ok_or_else(|| bad(format!("tensor {name:?}: dtype is not a string")))?;
    let ints = |k: &str| -> Result<Vec<usize>> {
        field(k)?
            .as_array()
            .and_then(|a| a.iter().map(|x| x.as_u64().and_then(|x| usize::try_from(x).ok())).collect())
            .ok_or_else(|| bad(format!("tensor {name:?}: {k} is not a list of non-negative integers")))
    };
    let shape = ints("shape")?;
    let offsets = ints("data_offsets")?;
    let width = match dtype {
        "F64" | "I64" => 8,
        "F32" | "I32" => 4,
        "F16" | "BF16" | "I16" => 2,
        "I8" | "U8" | "BOOL" => 1,
        other => return Err(bad(format!("tensor {name:?}: unknown dtype {other:?}"))),
    };
    let numel = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    let bytes = numel.and_then(|n| n.checked_mul(width));
    match (offsets.as_slice(), bytes) {
        ([begin, end], Some(bytes)) if begin <= end && end - begin == bytes => {
            Ok(Entry { dtype: dtype.to_string(), shape, begin: *begin, end: *end })
        }
        _ => Err(bad(format!("tensor {name:?}: data_offsets {offsets:?} do not fit shape {shape:?} of {dtype}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn reads_tensors_and_metadata() {
        let mut data = Vec::new();
        for x in [1.5f64, -2.0] {
            data.extend_from_slice(&x.to_le_bytes());
        }
        data.extend_from_slice(&0.25f32.to_le_bytes());
        let header = r#"{"__metadata__":{"equipot":"{}"},"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[1,1],"data_offsets":[16,20]}}"#;
        let st = SafeTensors::parse(file(header, &data)).unwrap();
        assert_eq!(st.metadata["equipot"], "{}");
        assert_eq!(st.f64("a").unwrap(), (vec![1.5, -2.0], vec![2]));
        assert_eq!(st.f64_shaped("b", &[1, 1]).unwrap(), vec![0.25]);
        assert!(st.f64_shaped("b", &[1]).unwrap_err().to_string().contains("shape"));
        assert!(st.f64("c").unwrap_err().to_string().contains("missing tensor"));
    }

    #[test]
    fn rejects_truncated_and_garbage() {
        let header = r#"{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"#;
        let truncated = SafeTensors::parse(file(header, &[0; 8])).err().unwrap().to_string();
        assert!(truncated.contains("truncated"), "{truncated}");
        let mut short_header = file(header, &[0; 16]);
        short_header.truncate(20);
        assert!(SafeTensors::parse(short_header).err().unwrap().to_string().contains("truncated"));
        assert!(SafeTensors::parse(vec![1, 2, 3]).is_err());
        assert!(SafeTensors::parse(file("[1]", &[])).is_err());
        let inconsistent = r#"{"a":{"dtype":"F64","shape":[3],"data_offsets":[0,16]}}"#;
        assert!(SafeTensors::parse(file(inconsistent, &[0; 16])).err().unwrap().to_string().contains("do not fit"));
    }
}
