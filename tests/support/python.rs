//! The project venv's Python, where the Python peers (pykeepass, `cryptography`) are installed.

use std::path::PathBuf;

/// The project venv's Python (`$TROUSSEAU_VENV`, default `~/.cache/trousseau/venv`); fails the
/// test naming `install_script` when it is missing.
pub fn venv_python(install_script: &str) -> PathBuf {
    let venv = std::env::var_os("TROUSSEAU_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/trousseau/venv")
        });
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "{} is missing: run {install_script}",
        py.display()
    );
    py
}

/// An independent implementation of ASP.NET Core's payload format (AES-CBC + HMAC, SP800-108
/// CTR HMAC-SHA512 subkeys, the context header), written with Python `cryptography` from the
/// documented format, not from our code. Arguments: base64 master key, key id, key size in
/// bytes, `HMACSHA256` or `HMACSHA512`, a payload, then the purposes. It prints the payload's
/// plaintext, then a payload of its own (`réponse de python`, repeated `PEER_REPLY_REPEAT`
/// times when that variable is set) for the same key and purposes.
pub const ASPNET_PEER: &str = r#"
import sys, base64, os, struct, uuid
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, Mode, CounterLocation

def b64u_dec(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def b64u_enc(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def kdf(kdk, label, context, length):
    return KBKDFHMAC(algorithm=hashes.SHA512(), mode=Mode.CounterMode, length=length, rlen=4, llen=4,
                     location=CounterLocation.BeforeFixed, label=label, context=context, fixed=None).derive(kdk)

def seven_bit(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80); n >>= 7
    out.append(n); return bytes(out)

def aad(key_guid_bytes, purposes):
    a = bytes([0x09, 0xF0, 0xC9, 0xF0]) + key_guid_bytes + struct.pack(">I", len(purposes))
    for p in purposes:
        u = p.encode("utf-8"); a += seven_bit(len(u)) + u
    return a

def context_header(ks, hash_alg, ds):
    k = kdf(b"", b"", b"", ks + ds)
    enc = Cipher(algorithms.AES(k[:ks]), modes.CBC(bytes(16))).encryptor()
    pad = padding.PKCS7(128).padder()
    block = enc.update(pad.update(b"") + pad.finalize()) + enc.finalize()
    h = hmac.HMAC(k[ks:], hash_alg); mac = h.finalize()
    return b"\x00\x00" + struct.pack(">IIII", ks, 16, ds, ds) + block + mac

def unprotect(master, ks, hash_alg, ds, purposes, text):
    p = b64u_dec(text)
    assert p[:4] == bytes([0x09, 0xF0, 0xC9, 0xF0]), "magic"
    guid = p[4:20]; body = p[20:]
    mod, iv, ct, mac = body[:16], body[16:32], body[32:-ds], body[-ds:]
    k = kdf(master, aad(guid, purposes), context_header(ks, hash_alg, ds) + mod, ks + ds)
    h = hmac.HMAC(k[ks:], hash_alg); h.update(iv + ct); h.verify(mac)
    dec = Cipher(algorithms.AES(k[:ks]), modes.CBC(iv)).decryptor()
    un = padding.PKCS7(128).unpadder()
    return un.update(dec.update(ct) + dec.finalize()) + un.finalize()

def protect(master, key_id, ks, hash_alg, ds, purposes, data):
    guid = uuid.UUID(key_id).bytes_le
    mod, iv = os.urandom(16), os.urandom(16)
    k = kdf(master, aad(guid, purposes), context_header(ks, hash_alg, ds) + mod, ks + ds)
    pad = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(k[:ks]), modes.CBC(iv)).encryptor()
    ct = enc.update(pad.update(data) + pad.finalize()) + enc.finalize()
    h = hmac.HMAC(k[ks:], hash_alg); h.update(iv + ct)
    return b64u_enc(bytes([0x09, 0xF0, 0xC9, 0xF0]) + guid + mod + iv + ct + h.finalize())

master = base64.b64decode(sys.argv[1]); key_id = sys.argv[2]; ks = int(sys.argv[3])
hash_alg, ds = (hashes.SHA256(), 32) if sys.argv[4] == "HMACSHA256" else (hashes.SHA512(), 64)
payload = sys.argv[5]; purposes = sys.argv[6:]
print(unprotect(master, ks, hash_alg, ds, purposes, payload).decode("utf-8"))
reply = "réponse de python" * int(os.environ.get("PEER_REPLY_REPEAT", "1"))
print(protect(master, key_id, ks, hash_alg, ds, purposes, reply.encode("utf-8")))
"#;
