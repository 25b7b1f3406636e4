"""Public keys from the directory are parsed once per distinct key; a private JWK is never taken for one."""

from __future__ import annotations

import pytest
from joserfc.jwk import OKPKey

from adapters import jose


def test_a_public_jwk_is_parsed_once_whatever_the_order_of_its_members():
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "official-1"})
    public = key.as_dict(private=False)
    reordered = dict(reversed(list(public.items())))
    first = jose.public_key(public)
    assert jose.public_key(reordered) is first
    token = jose.sign({"hello": "world"}, key, "t")
    assert jose.verify(token, lambda kid: jose.public_key(public), "t") == ("official-1", {"hello": "world"})
    other = OKPKey.generate_key("Ed25519", parameters={"kid": "official-1"}).as_dict(private=False)
    assert jose.public_key(other) is not first  # same kid, another key: another entry
    with pytest.raises(jose.JoseFailure, match="bad-signature"):
        jose.verify(token, lambda kid: jose.public_key(other), "t")


def test_a_jwk_with_a_private_part_is_refused_as_a_published_key():
    private = OKPKey.generate_key("X25519", parameters={"kid": "k"}).as_dict(private=True)
    with pytest.raises(jose.JoseFailure, match="not-a-public-key"):
        jose.public_key(private)


def test_the_decryption_key_converted_once_still_opens_only_its_own_envelopes():
    ours = OKPKey.generate_key("X25519", parameters={"kid": "enc-1"})
    theirs = OKPKey.generate_key("X25519", parameters={"kid": "enc-1"})
    signer = OKPKey.generate_key("Ed25519", parameters={"kid": "s"})
    sealed = jose.encrypt(jose.sign({"n": 1}, signer, "t"), {"enc-1": ours.as_dict(private=False)})
    for _ in range(2):  # the second time from the converted key
        assert jose.verify(jose.decrypt(sealed, "enc-1", ours), lambda kid: signer, "t")[1] == {"n": 1}
        with pytest.raises(jose.JoseFailure, match="decryption-failed"):
            jose.decrypt(sealed, "enc-1", theirs)
