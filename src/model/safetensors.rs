//! A strict reader of safetensors files (the container of equipot's model
//! files, docs/model-format.md): 8-byte little-endian header length N, N
//! bytes of JSON ({name: {dtype, shape, data_offsets}, "__metadata__":
//! {str: str}}), then the raw little-endian tensor data. Every offset is
//! checked against the file, so a truncated file is an error, not a crash.

use crate::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;

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
            return Err(bad(format!("file is {} bytes, too short for a safetensors header", data.len())));
        }
        let n = u64::from_le_bytes(data[..8].try_into().unwrap());
        let header_end = usize::try_from(n).ok().and_then(|n| n.checked_add(8)).filter(|&end| end <= data.len());
        let header_end = header_end.ok_or_else(|| {
            bad(format!("header length {n} runs past the end of the {}-byte file (truncated?)", data.len()))
        })?;
        let header: Value = serde_json::from_slice(&data[8..header_end])
            .map_err(|e| bad(format!("safetensors header is not valid JSON ({e})")))?;
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
                    "tensor {name:?} ends at byte {} of a {data_len}-byte data section (truncated?)",
                    entry.end
                )));
            }
            entries.insert(name.clone(), entry);
        }
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

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.entries.get(name).ok_or_else(|| bad(format!("missing tensor {name:?}")))
    }

    /// A floating-point tensor's values as f64 (F64 exactly, F32 widened),
    /// flattened row-major, with its shape.
    pub fn f64(&self, name: &str) -> Result<(Vec<f64>, Vec<usize>)> {
        let e = self.entry(name)?;
        let bytes = &self.data[self.data_start + e.begin..self.data_start + e.end];
        let values = match e.dtype.as_str() {
            "F64" => bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
            "F32" => bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            "I64" => bytes.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            "I32" => bytes.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
            other => return Err(bad(format!("tensor {name:?} has dtype {other}, expected a number type"))),
        };
        Ok((values, e.shape.clone()))
    }

    /// A tensor that must have exactly `shape`.
    pub fn f64_shaped(&self, name: &str, shape: &[usize]) -> Result<Vec<f64>> {
        let (values, actual) = self.f64(name)?;
        if actual != shape {
            return Err(bad(format!("tensor {name:?} has shape {actual:?}, expected {shape:?}")));
        }
        Ok(values)
    }
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
        other => return Err(bad(format!("tensor {name:?}: unknown dtype {other}"))),
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
