//! The protected-payload envelope of ASP.NET Core's `KeyRingBasedDataProtector`: magic header
//! `09 F0 C9 F0`, key id in .NET GUID byte order, the additional authenticated data built from
//! the purpose chain, and base64url.

use base64::Engine;
use uuid::Uuid;

use super::error::{DataProtectionError, Result};

/// `09 F0 C9 F0`: the magic header of format version 0.
pub const MAGIC: [u8; 4] = [0x09, 0xF0, 0xC9, 0xF0];
/// Magic header plus key id.
pub const ENVELOPE_LEN: usize = 20;

/// The 16 bytes of a key id inside payloads (.NET mixed-endian GUID layout).
pub fn guid_bytes(id: Uuid) -> [u8; 16] {
    id.to_bytes_le()
}

/// Writes .NET `BinaryWriter.Write7BitEncodedInt`.
pub fn write_7bit(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// AAD := magic || keyId || BE32(count) || (7bitLen(utf8) || utf8)*, as ASP.NET Core's
/// `AdditionalAuthenticatedDataTemplate` (7bitLen: .NET's `Write7BitEncodedInt` of the byte count).
pub fn aad(key_id: Uuid, purposes: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + purposes.iter().map(|p| p.len() + 2).sum::<usize>());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&guid_bytes(key_id));
    out.extend_from_slice(&(purposes.len() as u32).to_be_bytes());
    for p in purposes {
        write_7bit(&mut out, p.len() as u32);
        out.extend_from_slice(p.as_bytes());
    }
    out
}

/// Reads the envelope: checks the magic header and version, returns the key id and the body.
pub fn open_envelope(payload: &[u8]) -> Result<(Uuid, &[u8])> {
    if payload.len() < ENVELOPE_LEN {
        if payload.len() >= 4 && payload[..4] == MAGIC {
            return Err(DataProtectionError::Truncated(payload.len()));
        }
        return Err(DataProtectionError::BadMagic);
    }
    let version = payload[3] & 0x0F;
    if payload[..3] != MAGIC[..3] || payload[3] & 0xF0 != MAGIC[3] & 0xF0 {
        return Err(DataProtectionError::BadMagic);
    }
    if version != 0 {
        return Err(DataProtectionError::NewerVersion(version));
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&payload[4..20]);
    Ok((Uuid::from_bytes_le(id), &payload[ENVELOPE_LEN..]))
}

/// RFC 4648 §5 base64url without padding (ASP.NET `WebEncoders.Base64UrlEncode`).
pub fn to_base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, with or without padding; surrounding whitespace is ignored.
pub fn from_base64url(text: &str) -> Result<Vec<u8>> {
    let t = text.trim().trim_end_matches('=');
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .map_err(|e| DataProtectionError::Base64(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real ASP.NET Core key id and its payload bytes; the sample payload of ASP.NET Core's
    // "authenticated encryption details" documentation.
    #[test]
    fn guid_layout_matches_spec() {
        let id: Uuid = "ead9607a-7754-4369-a7f4-6696e5713ced".parse().unwrap();
        assert_eq!(
            hex::encode(guid_bytes(id)),
            "7a60d9ea54776943a7f46696e5713ced"
        );
        let bytes = [
            0x80, 0x9C, 0x81, 0x0C, 0x19, 0x66, 0x19, 0x40, 0x95, 0x36, 0x53, 0xF8, 0xAA, 0xFF,
            0xEE, 0x57,
        ];
        assert_eq!(
            Uuid::from_bytes_le(bytes).to_string(),
            "0c819c80-6619-4019-9536-53f8aaffee57"
        );
    }

    // From ASP.NET Core's `AdditionalAuthenticatedDataTemplateTests.cs`.
    #[test]
    fn spec_6_5_aad_template() {
        let purposes: Vec<String> = ["my sample string", "©®±µ¶", "my other sample string",
            "CfDJ8H5oH_fp1QNBmvs-OWXxsVoV30hrXeI4-PI4p1VZytjsgd0DTstMdtTZbFtm2dKHvsBlDCv7TiEWKztZf8fb48pUgBgUE2SeYV3eOUXvSfNWU0D8SmHLy5KEnwKKkZKqudDhCnjQSIU7mhDliJJN1e4", "."]
            .iter().map(|s| s.to_string()).collect();
        let a = aad(Uuid::nil(), &purposes);
        assert_eq!(base64::engine::general_purpose::STANDARD.encode(&a),
            "CfDJ8AAAAAAAAAAAAAAAAAAAAAAAAAAFEG15IHNhbXBsZSBzdHJpbmcKwqnCrsKxwrXCthZteSBvdGhlciBzYW1wbGUgc3RyaW5nmwFDZkRKOEg1b0hfZnAxUU5CbXZzLU9XWHhzVm9WMzBoclhlSTQtUEk0cDFWWnl0anNnZDBEVHN0TWR0VFpiRnRtMmRLSHZzQmxEQ3Y3VGlFV0t6dFpmOGZiNDhwVWdCZ1VFMlNlWVYzZU9VWHZTZk5XVTBEOFNtSEx5NUtFbndLS2taS3F1ZERoQ25qUVNJVTdtaERsaUpKTjFlNAEu");
    }

    // The AAD as ASP.NET Core's `KeyRingBasedDataProtectorTests.cs` builds it.
    #[test]
    fn spec_6_4_aad_structure() {
        let id: Uuid = "ba73c9ce-d322-4e45-af90-341307e11c38".parse().unwrap();
        let a = aad(id, &["purpose".to_string()]);
        let mut expected = MAGIC.to_vec();
        expected.extend_from_slice(&id.to_bytes_le());
        expected.extend_from_slice(&[0, 0, 0, 1, 7]);
        expected.extend_from_slice(b"purpose");
        assert_eq!(a, expected);
        let mut big = Vec::new();
        write_7bit(&mut big, 155);
        assert_eq!(big, [0x9B, 0x01]);
    }

    #[test]
    fn envelope_errors_are_distinct() {
        assert!(matches!(
            open_envelope(&[1, 2, 3]),
            Err(DataProtectionError::BadMagic)
        ));
        assert!(matches!(
            open_envelope(&[0x09, 0xF0, 0xC9, 0xF0, 1]),
            Err(DataProtectionError::Truncated(5))
        ));
        let mut p = vec![0x09, 0xF0, 0xC9, 0xF1];
        p.extend_from_slice(&[0; 16]);
        assert!(matches!(
            open_envelope(&p),
            Err(DataProtectionError::NewerVersion(1))
        ));
        assert!(matches!(
            from_base64url("CfDJ8*"),
            Err(DataProtectionError::Base64(_))
        ));
    }
}
