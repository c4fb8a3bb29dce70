//! KDBX 4 `VariantDictionary` (the KdfParameters header field).

use std::collections::BTreeMap;

use super::KdbxError;

/// One value of a variant dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    U32(u32),
    U64(u64),
    Bool(bool),
    I32(i32),
    I64(i64),
    Str(String),
    Bytes(Vec<u8>),
}

fn corrupt(msg: &str) -> KdbxError {
    KdbxError::Corrupt(format!(
        "the KDF parameters in the header are damaged: {msg}"
    ))
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], KdbxError> {
    if data.len() < n {
        return Err(corrupt("truncated"));
    }
    let (head, rest) = data.split_at(n);
    *data = rest;
    Ok(head)
}

fn len32(data: &mut &[u8]) -> Result<usize, KdbxError> {
    let b = take(data, 4)?;
    let n = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    usize::try_from(n).map_err(|_| corrupt("negative length"))
}

/// Parses a variant dictionary (version 1.x).
pub(crate) fn parse(mut data: &[u8]) -> Result<BTreeMap<String, Value>, KdbxError> {
    let version = take(&mut data, 2)?;
    if version[1] != 1 {
        return Err(KdbxError::Unsupported(format!(
            "KDF parameter dictionary version {}.{} is not supported (1.x)",
            version[1], version[0]
        )));
    }
    let mut map = BTreeMap::new();
    loop {
        let kind = take(&mut data, 1)?[0];
        if kind == 0 {
            return Ok(map);
        }
        let klen = len32(&mut data)?;
        let key = String::from_utf8(take(&mut data, klen)?.to_vec())
            .map_err(|_| corrupt("key is not UTF-8"))?;
        let vlen = len32(&mut data)?;
        let v = take(&mut data, vlen)?;
        let fixed = |n: usize| {
            if v.len() == n {
                Ok(v)
            } else {
                Err(corrupt("bad value size"))
            }
        };
        let value = match kind {
            0x04 => Value::U32(u32::from_le_bytes(
                fixed(4)?.try_into().map_err(|_| corrupt("size"))?,
            )),
            0x05 => Value::U64(u64::from_le_bytes(
                fixed(8)?.try_into().map_err(|_| corrupt("size"))?,
            )),
            0x08 => Value::Bool(fixed(1)?[0] != 0),
            0x0C => Value::I32(i32::from_le_bytes(
                fixed(4)?.try_into().map_err(|_| corrupt("size"))?,
            )),
            0x0D => Value::I64(i64::from_le_bytes(
                fixed(8)?.try_into().map_err(|_| corrupt("size"))?,
            )),
            0x18 => Value::Str(
                String::from_utf8(v.to_vec()).map_err(|_| corrupt("string is not UTF-8"))?,
            ),
            0x42 => Value::Bytes(v.to_vec()),
            other => return Err(corrupt(&format!("unknown value type {other:#x}"))),
        };
        map.insert(key, value);
    }
}
