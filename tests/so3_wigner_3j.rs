//! Wigner-3j symbols against e3nn 0.6 (fixture: tests/fixtures/e3nn/wigner_3j.bin,
//! written by generate_wigner_3j.py with the real e3nn).

use equipot::so3::wigner_3j;

fn read_u32(b: &[u8], at: &mut usize) -> u32 {
    let v = u32::from_le_bytes(b[*at..*at + 4].try_into().unwrap());
    *at += 4;
    v
}

#[test]
fn wigner_3j_equals_e3nn_up_to_l6() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/e3nn/wigner_3j.bin")).unwrap();
    let mut at = 0;
    let mut triples = 0;
    while at < bytes.len() {
        let (l1, l2, l3) = (bytes[at] as u32, bytes[at + 1] as u32, bytes[at + 2] as u32);
        at += 3;
        let nnz = read_u32(&bytes, &mut at);
        let ours = wigner_3j(l1, l2, l3).unwrap();
        let mut expected = vec![0.0; ours.len()];
        for _ in 0..nnz {
            let k = read_u32(&bytes, &mut at) as usize;
            expected[k] = f64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
            at += 8;
        }
        let diff: f64 = ours.iter().zip(&expected).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        let norm: f64 = expected.iter().map(|b| b * b).sum::<f64>().sqrt();
        assert!(diff <= 1e-12 * norm, "({l1},{l2},{l3}): relative difference {}", diff / norm);
        triples += 1;
    }
    assert_eq!(triples, 175);
}

#[test]
fn wigner_3j_rejects_the_impossible() {
    assert!(wigner_3j(1, 1, 3).is_err());
    assert!(wigner_3j(4, 1, 2).is_err());
}
