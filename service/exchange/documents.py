"""The published shape of the signed documents other than envelopes: receipts, rejections,
directories, and the audit answers partners rely on (``docs/envelope-format.md`` §1, §3.2,
§3.3; ``docs/audit-format.md`` §3, §4).

These models *describe* what the node signs and serves; the JSON Schemas in
``openapi/envelopes/`` are generated from them and from :mod:`service.exchange.schemas`
(:mod:`service.exchange.published`), and the test suite checks every document it produces
against those files.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
SHA256_HEX = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lowercase hex")]
B64URL = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$", description="base64url without padding")]
AdminCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2 code")]
Note = Annotated[str, Field(max_length=4096, description="a C2SP signed note (tlog-checkpoint), LF line ends")]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Ed25519PublicJwk(BaseModel):
    """An RFC 8037 public key (members beyond these, such as ``kid``, may be present)."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: B64URL


class X25519PublicJwk(BaseModel):
    kty: Literal["OKP"]
    crv: Literal["X25519"]
    x: B64URL


class JweRecipientHeader(Closed):
    alg: Literal["ECDH-ES+A256KW"]
    kid: Annotated[str, Field(min_length=1, max_length=200)]
    epk: X25519PublicJwk


class JweRecipient(Closed):
    header: JweRecipientHeader
    encrypted_key: B64URL


class EnvelopeJwe(Closed):
    """The body of ``POST /exchange/inbox`` as our nodes send it: a JWE in the general JSON serialization
    (RFC 7516 §7.2.1). ``protected`` decodes to ``{"enc":"A256GCM","typ":"cmaa-envelope+jwe","cty":"JWS"}``.
    Receivers also accept the flattened form (§7.2.2) for one recipient."""

    protected: B64URL
    iv: B64URL
    ciphertext: B64URL
    tag: B64URL
    recipients: list[JweRecipient] = Field(min_length=1, max_length=20)


class DirectoryKey(Closed):
    kid: Annotated[str, Field(min_length=1, max_length=200)]
    use: Literal["sig", "enc"]
    jwk: Ed25519PublicJwk | X25519PublicJwk
    valid_from: AwareDatetime = Field(description="inclusive: the key is valid from this instant on")
    valid_until: AwareDatetime = Field(description="exclusive: the key is valid before this instant, not at it")


class DirectoryOfficial(Closed):
    name: Annotated[str, Field(max_length=200)]
    keys: list[DirectoryKey]


class Directory(Closed):
    """The JWS payload of ``GET /exchange/directory`` (``typ`` ``cmaa-directory+jws``)."""

    type: Literal["cmaa-directory"]
    v: Literal[1]
    administration: AdminCode
    name: Annotated[str, Field(max_length=200)]
    endpoint: str | None = Field(description="the node's base URL; the inbox is <endpoint>/exchange/inbox")
    issued_at: AwareDatetime
    node_key: Ed25519PublicJwk
    officials: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")], DirectoryOfficial]


class Receipt(Closed):
    """The JWS payload of a receipt (``typ`` ``cmaa-receipt+jws``), signed by the receiver's node key."""

    type: Literal["cmaa-receipt"]
    envelope_id: Annotated[str, Field(pattern=UUID_PATTERN)]
    envelope_sha256: SHA256_HEX = Field(description="SHA-256 of the exact body bytes of the copy that was applied")
    sender: AdminCode
    receiver: AdminCode
    received_at: AwareDatetime
    status: Literal["accepted"]
    checkpoint: Note | None = Field(description="the receiver's latest signed checkpoint, null before its first")
    cosigned_checkpoint: Note | None = Field(
        description="the sender's checkpoint (from the envelope) with the receiver's cosignature line, or null")


class Rejection(Closed):
    """The JWS payload of ``signed_rejection`` (``typ`` ``cmaa-rejection+jws``)."""

    type: Literal["cmaa-rejection"]
    envelope_id: Annotated[str, Field(max_length=200)] | None = Field(
        description="the envelope's id, null when the refusal came before the signed content was read")
    envelope_sha256: SHA256_HEX = Field(
        description="SHA-256 of the body bytes received (for a body over the size limit: of the bytes read "
                    "before the limit was reached; empty when refused on the declared Content-Length)")
    receiver: AdminCode
    step: int = Field(ge=1, le=15, description="the step of envelope-format.md §3.1 that refused it")
    code: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]
    reason: str
    article: str | None = Field(description="the treaty article, for treaty rules; else null")
    at: AwareDatetime


class InboxProblem(BaseModel):
    """The ``application/problem+json`` body of a 4xx from ``POST /exchange/inbox`` (RFC 9457)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int = Field(ge=400, le=499)
    detail: str
    step: int = Field(ge=1, le=15)
    code: str
    envelope_id: str | None = None
    article: str | None = None
    signed_rejection: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")]


class InboxAnswer(Closed):
    """The 200 body of ``POST /exchange/inbox``."""

    receipt: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")]


class InboxBatch(Closed):
    """The body of ``POST /exchange/inbox/batch`` (docs/envelope-format.md §3.5)."""

    envelopes: list[str] = Field(min_length=1, max_length=64, description=(
        "Each item the exact text of one envelope, as it would be the body of `POST /exchange/inbox`; its "
        "receipt's `envelope_sha256` is the SHA-256 of the item's UTF-8 bytes"))


class InboxBatchResult(Closed):
    """One envelope's answer in a batch: what ``POST /exchange/inbox`` would have answered for it alone."""

    status: int = Field(ge=200, le=599)
    envelope_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    receipt: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")] | None = Field(
        None, description="when `status` is 200")
    problem: dict | None = Field(None, description="otherwise: the problem+json the inbox would have answered "
                                 "(inbox-problem.schema.json for a refusal at a numbered step; `retry_after` for 429)")


class InboxBatchAnswer(Closed):
    """The 200 body of ``POST /exchange/inbox/batch``: one result per envelope, in the request's order."""

    results: list[InboxBatchResult]


class CheckpointAnswer(Closed):
    """``GET /audit/checkpoint``."""

    origin: str
    tree_size: int = Field(ge=0)
    root: SHA256_HEX
    note: Note
    node_key_fingerprint: B64URL


HexHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ConsistencyProofAnswer(Closed):
    """``GET /audit/proofs/consistency?old_size=m&new_size=n`` (RFC 9162 §2.1.4, PROOF(m, D[0:n]))."""

    old_size: int = Field(ge=1)
    new_size: int = Field(ge=1)
    old_root: HexHash
    new_root: HexHash
    proof: list[HexHash]


class InclusionProofAnswer(Closed):
    """``GET /audit/cases/{id}/events/{version}/inclusion`` (RFC 9162 §2.1.3)."""

    leaf_index: int = Field(ge=0)
    leaf_hash: HexHash
    tree_size: int = Field(ge=1)
    root: HexHash
    proof: list[HexHash]


class BundleEvent(Closed):
    leaf_index: int = Field(ge=0)
    sealed_leaf_hash: HexHash
    originator_id: str
    originator_version: int = Field(ge=1)
    topic: str | None
    state: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]*={0,2}$",
                                description="standard base64 with padding of the stored bytes")] | None
    inclusion_proof: list[HexHash] | None = None


class HeldCheckpoint(Closed):
    note: Note
    consistency_proof: list[HexHash] | None = None


class Cosignature(Closed):
    witness: AdminCode
    witness_key: Ed25519PublicJwk | None
    note: Annotated[str, Field(max_length=8192)]


class ScopeAll(Closed):
    all: Literal[True]


class ScopeCase(Closed):
    case_id: Annotated[str, Field(pattern=UUID_PATTERN)]


class ScopeRange(Closed):
    since: AwareDatetime | None
    until: AwareDatetime | None


class AuditBundle(Closed):
    """``cmaa audit export`` (``docs/audit-format.md`` §4)."""

    type: Literal["cmaa-audit-bundle"]
    v: Literal[1]
    origin: str
    node_key: Ed25519PublicJwk
    scope: ScopeAll | ScopeCase | ScopeRange
    checkpoint: HeldCheckpoint
    checkpoints: list[HeldCheckpoint]
    cosignatures: list[Cosignature]
    events: list[BundleEvent]
