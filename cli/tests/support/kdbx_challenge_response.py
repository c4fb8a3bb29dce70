"""Writes a KDBX 4 database whose composite key includes a KeePassXC challenge-response key
(YubiKey HMAC-SHA1), which pykeepass does not support, then reopens it to prove the file is
consistent. An implementation independent of Trousseau's (Python's hmac and hashlib):

    response  = HMAC-SHA1(secret, challenge as the token sees it)   (20 bytes)
    cr_k      = SHA256(response)
    composite = SHA256(SHA256(password) || cr_k)                    (KeePassXC rawKey, KDBX 4)

where the challenge is the KDF seed S, padded by KeePassXC to 64 bytes PKCS#7-style; the token
takes every trailing byte equal to the last one for padding (KeePassXC
src/keys/ChallengeResponseKey.cpp).

usage: kdbx_challenge_response.py DB PASSWORD_FILE SECRET_HEX_FILE {argon2d,argon2id,aes}
       [SEED_HEX]
Prints the KDF seed (hex) on success.
"""

import hashlib
import hmac
import sys

import pykeepass.pykeepass as pk
from pykeepass import PyKeePass
from pykeepass.exceptions import CredentialsError
from pykeepass.kdbx_parsing import kdbx4
from pykeepass.kdbx_parsing.kdbx4 import kdf_uuids

STATE = {"secret": None, "seed": None}


def effective_challenge(seed):
    pad = 64 - len(seed)
    padded = seed + bytes([pad]) * pad
    return padded.rstrip(bytes([padded[-1]]))


def composite_with_cr(password=None, keyfile=None):
    """Replaces pykeepass's composite in the KDBX 4 code path."""
    assert keyfile is None, "this fixture supports password + challenge-response only"
    parts = hashlib.sha256(password.encode("utf-8")).digest() if password is not None else b""
    if STATE["secret"] is not None:
        response = hmac.new(STATE["secret"], effective_challenge(STATE["seed"]), hashlib.sha1).digest()
        parts += hashlib.sha256(response).digest()
    return hashlib.sha256(parts).digest()


def patch():
    """Hooks the transformed-key computation to learn the seed, and the composite to use it."""
    computed = next(s for s in kdbx4.Body.subcons if s.name == "transformed_key").subcon
    original = computed.func

    def transformed(context):
        kdf = context._.header.value.dynamic_header.kdf_parameters.data.dict
        STATE["seed"] = kdf["S"].value
        return original(context)

    computed.func = transformed
    kdbx4.compute_key_composite = composite_with_cr


def item(kind, key, value):
    return {"type": kind, "key": key, "value": value, "next_byte": 1}


def set_kdf(kp, kind):
    """Cheap KDF parameters (the test is about the key, not the cost)."""
    params = kp.kdbx.header.value.dynamic_header.kdf_parameters.data
    d = params.dict
    seed = d["S"].value
    if kind == "aes":
        new = {"$UUID": item(0x42, "$UUID", kdf_uuids["aeskdf"]),
               "R": item(0x05, "R", 1000),
               "S": item(0x42, "S", seed)}
    else:
        new = {"$UUID": item(0x42, "$UUID", kdf_uuids["argon2" if kind == "argon2d" else "argon2id"]),
               "I": item(0x05, "I", 2), "M": item(0x05, "M", 1 << 20),
               "P": item(0x04, "P", 1), "S": item(0x42, "S", seed),
               "V": item(0x04, "V", 0x13)}
    last = list(new)[-1]
    new[last]["next_byte"] = 0
    d.clear()
    for k, v in new.items():
        d[k] = type(params)(v)


def main():
    db, pw_file, secret_file, kind = sys.argv[1:5]
    forced_seed = bytes.fromhex(sys.argv[5]) if len(sys.argv) > 5 else None
    password = open(pw_file, encoding="utf-8").read().split("\n")[0]
    secret = bytes.fromhex(open(secret_file).read().strip())
    assert len(secret) == 20
    patch()
    kp = PyKeePass(pk.BLANK_DATABASE_LOCATION, pk.BLANK_DATABASE_PASSWORD)
    set_kdf(kp, kind)
    kp.add_entry(kp.root_group, "cr", "user", "entry-password")
    kp.password = password
    if forced_seed is not None:
        rotate = pk.rotate_seeds

        def rotate_then_force(kdbx, rotate_kdf_salt=True):
            rotate(kdbx, rotate_kdf_salt)
            kdbx.header.value.dynamic_header.kdf_parameters.data.dict["S"].value = forced_seed

        pk.rotate_seeds = rotate_then_force
    STATE["secret"] = secret
    kp.save(db)
    seed = STATE["seed"]
    # Reopen with the challenge-response key: the header HMAC and payload must check out.
    again = PyKeePass(db, password=password)
    assert again.find_entries(title="cr", first=True).password == "entry-password"
    assert STATE["seed"] == seed
    # Without it, the same password must not open the file.
    STATE["secret"] = None
    try:
        PyKeePass(db, password=password)
    except CredentialsError:
        pass
    else:
        sys.exit("the database opened without its challenge-response key")
    print(seed.hex())


main()
