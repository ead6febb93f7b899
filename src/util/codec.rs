//! Decoding numbers sent as text: base64 (RFC 4648, standard alphabet) and the little-endian
//! single-precision floats an embedding's `encoding_format: base64` packs into it.

/// The value of one base64 character (standard alphabet), if it is one.
fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decodes standard base64 with its `=` padding (padding may be left out); anything else is an
/// error saying where.
pub fn base64(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let body = bytes
        .iter()
        .rposition(|&c| c != b'=')
        .map_or(&bytes[..0], |i| &bytes[..=i]);
    let padding = bytes.len() - body.len();
    if padding > 2 || (padding > 0 && bytes.len() % 4 != 0) {
        return Err(format!("{padding} `=` of padding on {} characters", bytes.len()));
    }
    if body.len() % 4 == 1 {
        return Err(format!("{} characters cannot be base64", body.len()));
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    for (n, chunk) in body.chunks(4).enumerate() {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = sextet(c).ok_or_else(|| {
                format!(
                    "character {} ({:?}) is not base64",
                    n * 4 + i,
                    char::from(c)
                )
            })?;
            acc |= v << (18 - 6 * i);
        }
        let b = acc.to_be_bytes();
        out.extend_from_slice(&b[1..chunk.len()]);
    }
    Ok(out)
}

/// Little-endian IEEE 754 single-precision floats, four bytes each.
pub fn f32le(bytes: &[u8]) -> Result<Vec<f32>, String> {
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "{} bytes are not a whole number of 4-byte floats",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_or_says_why() {
        let table: &[(&str, Result<&[u8], &str>)] = &[
            ("", Ok(b"")),
            ("Zg==", Ok(b"f")),
            ("Zm8=", Ok(b"fo")),
            ("Zm9v", Ok(b"foo")),
            ("Zm9vYg", Ok(b"foob")),
            ("+/+/", Ok(&[0xfb, 0xff, 0xbf])),
            ("Zm9v!A==", Err("character 4 ('!') is not base64")),
            ("Zg===", Err("3 `=` of padding")),
            ("Zm9vY", Err("5 characters cannot be base64")),
            ("Z=9v", Err("character 1 ('=') is not base64")),
        ];
        for (text, want) in table {
            match (base64(text), want) {
                (Ok(got), Ok(w)) => assert_eq!(got, *w, "{text}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{text}: {e}"),
                (got, w) => panic!("{text}: {got:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn floats_are_little_endian() {
        // 1.0 = 0x3f800000, -2.5 = 0xc0200000: little-endian bytes, base64 "AACAPwAAIMA=".
        let bytes = base64("AACAPwAAIMA=").unwrap();
        assert_eq!(f32le(&bytes).unwrap(), vec![1.0, -2.5]);
        // The same bytes read big-endian would be other numbers: the order matters.
        assert_ne!(f32::from_be_bytes([0, 0, 0x80, 0x3f]), 1.0);
        assert!(f32le(&[0, 0, 0x80]).unwrap_err().contains("3 bytes"));
    }
}
