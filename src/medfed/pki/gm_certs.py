"""SM2 X.509 certificates (GM/T 0015): an SM2 CA per study certifies each party's SM2 key.

These certificates carry the party's *SM2* identity key, proved at the application layer by
an SM2 challenge–response (``medfed.authn``); the TLS channel itself still runs on the
ECDSA certificates of ``authority`` (see ``medfed.crypto``). Like those, a leaf names its party
in a SAN URI ``medfed://<study_id>/<role>/<name>`` (CN = name, OU = role, O = "medfed study
<study_id>"). Certificates are built with asn1crypto and signed through the ``gm`` suite:
SM2 with SM3 and the default user ID, signature algorithm OID 1.2.156.10197.1.501.
Key identifiers are the first 20 bytes of SM3 over the public key bits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

from asn1crypto import keys, pem
from asn1crypto import x509 as asn1

from medfed.crypto import CryptoError, SigningKey, VerifyKey, get_suite
from medfed.crypto.gm import GmSuite, GmVerifyKey
from medfed.errors import ConfigError, IdentityError
from medfed.pki.identity import URI_SCHEME, PeerIdentity, identity_uri
from medfed.roles import Role

SM2_WITH_SM3 = "1.2.156.10197.1.501"
_CA_CN_PREFIX = "medfed SM2 CA "
_STUDY_PREFIX = "medfed study "
_CLOCK_SKEW = timedelta(minutes=5)
_KNOWN_CRITICAL = {"basic_constraints", "key_usage"}


@dataclass(frozen=True)
class GmAuthority:
    """An SM2 CA of one study: its signing key (keep it in a ``KeyStore``) and certificate."""

    study_id: str
    key: SigningKey
    cert_pem: bytes


@dataclass(frozen=True)
class VerifiedGmCertificate:
    """What a verified SM2 certificate speaks for, and the SM2 key to check its proofs with."""

    identity: PeerIdentity
    public_key: GmVerifyKey
    serial_number: int
    not_after: datetime


def _gm() -> GmSuite:
    suite = get_suite("gm")
    assert isinstance(suite, GmSuite)
    return suite


def _spki(key: VerifyKey) -> keys.PublicKeyInfo:
    _gm().load_verify_key(key.public_bytes())  # an SM2 256-bit key, or CryptoError / policy
    _, _, der = pem.unarmor(key.public_bytes())
    return keys.PublicKeyInfo.load(der)


def _key_id(spki: keys.PublicKeyInfo) -> bytes:
    return _gm().digest(spki["public_key"].contents)[:20]


def _time(when: datetime) -> asn1.Time:
    when = when.astimezone(UTC).replace(microsecond=0)
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    return asn1.Time({"utc_time" if when.year < 2050 else "general_time": when})


def _sign(
    signer: SigningKey, tbs_fields: dict[str, object], extensions: list[dict[str, object]]
) -> bytes:
    tbs = asn1.TbsCertificate(
        {
            "version": "v3",
            "serial_number": secrets.randbits(127) | 1,
            "signature": {"algorithm": SM2_WITH_SM3},
            **tbs_fields,
            "extensions": extensions,
        }
    )
    cert = asn1.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": SM2_WITH_SM3},
            "signature_value": signer.sign(tbs.dump()),
        }
    )
    return pem.armor("CERTIFICATE", cert.dump())


def create_gm_authority(
    study_id: str,
    *,
    key: SigningKey | None = None,
    valid_days: int = 365,
    now: datetime | None = None,
) -> GmAuthority:
    """A self-signed SM2 CA for ``study_id`` (a fresh SM2 key unless ``key`` is given)."""
    if not study_id or valid_days < 1:
        raise ConfigError("an SM2 CA needs a non-empty study id and valid_days >= 1")
    key = key or _gm().generate_signing_key()
    spki = _spki(key.verify_key())
    name = asn1.Name.build(
        {"common_name": _CA_CN_PREFIX + study_id, "organization_name": _STUDY_PREFIX + study_id}
    )
    start = (now or datetime.now(UTC)) - _CLOCK_SKEW
    cert_pem = _sign(
        key,
        {
            "issuer": name,
            "validity": {
                "not_before": _time(start),
                "not_after": _time(start + timedelta(days=valid_days)),
            },
            "subject": name,
            "subject_public_key_info": spki,
        },
        [
            {
                "extn_id": "basic_constraints",
                "critical": True,
                "extn_value": {"ca": True, "path_len_constraint": 0},
            },
            {"extn_id": "key_usage", "critical": True, "extn_value": {"key_cert_sign", "crl_sign"}},
            {"extn_id": "key_identifier", "critical": False, "extn_value": _key_id(spki)},
        ],
    )
    return GmAuthority(study_id=study_id, key=key, cert_pem=cert_pem)


def issue_gm_certificate(
    authority: GmAuthority,
    name: str,
    role: Role,
    public_key: VerifyKey,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    valid_days: int = 365,
) -> bytes:
    """PEM certificate binding party ``name`` acting as ``role`` to its SM2 ``public_key``.

    The party keeps its private key; only the public key comes to the CA. Validity runs from
    ``not_before`` (default: now) to ``not_after`` (default: ``valid_days`` later, capped at
    the CA's expiry); explicit dates are taken as given so tests can mint expired ones.
    ConfigError for an empty name or an empty period; KeyPolicyError for a non-SM2 key.
    """
    if not name:
        raise ConfigError("a certificate needs a non-empty party name")
    ca = _load(authority.cert_pem)
    start = not_before or datetime.now(UTC) - _CLOCK_SKEW
    end = not_after or min(start + timedelta(days=valid_days), ca.not_valid_after)
    if end <= start:
        raise ConfigError(f"certificate for {name!r} would expire ({end}) before it starts")
    spki = _spki(public_key)
    study = authority.study_id
    uri = identity_uri(study, role, name)
    return _sign(
        authority.key,
        {
            "issuer": ca.subject,
            "validity": {"not_before": _time(start), "not_after": _time(end)},
            "subject": asn1.Name.build(
                {
                    "common_name": name,
                    "organizational_unit_name": role.value,
                    "organization_name": _STUDY_PREFIX + study,
                }
            ),
            "subject_public_key_info": spki,
        },
        [
            {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": False}},
            {"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature"}},
            {
                "extn_id": "subject_alt_name",
                "critical": False,
                "extn_value": [asn1.GeneralName({"uniform_resource_identifier": uri})],
            },
            {"extn_id": "key_identifier", "critical": False, "extn_value": _key_id(spki)},
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": _key_id(ca.public_key)},
            },
        ],
    )


def _load(cert_pem: bytes) -> asn1.Certificate:
    try:
        _, _, der = pem.unarmor(bytes(cert_pem))
        cert = asn1.Certificate.load(der, strict=True)
        _ = cert.native  # parse everything now: a malformed field fails here, not later
    except (ValueError, TypeError, KeyError) as exc:
        raise IdentityError("not a readable SM2 certificate") from exc
    return cert


def _checked(cert: asn1.Certificate, signer: GmVerifyKey, now: datetime, what: str) -> None:
    """Signature (SM2-with-SM3 on both algorithm fields), validity and critical extensions."""
    tbs = cert["tbs_certificate"]
    algorithms = {
        cert["signature_algorithm"]["algorithm"].dotted,
        tbs["signature"]["algorithm"].dotted,
    }
    if algorithms != {SM2_WITH_SM3}:
        raise IdentityError(f"{what} is not signed with SM2-with-SM3")
    try:
        signer.verify(tbs.dump(), cert["signature_value"].native)
    except CryptoError:
        raise CryptoError(f"{what} signature does not verify") from None
    if not cert.not_valid_before <= now < cert.not_valid_after:
        raise IdentityError(
            f"{what} is outside its validity period "
            f"({cert.not_valid_before.isoformat()} – {cert.not_valid_after.isoformat()})"
        )
    unknown = cert.critical_extensions - _KNOWN_CRITICAL
    if unknown:
        raise IdentityError(f"{what} has unknown critical extensions {sorted(unknown)}")


def _identity(cert: asn1.Certificate, study_id: str) -> PeerIdentity:
    uris = [
        u
        for u in (cert.subject_alt_name_value.native if cert.subject_alt_name_value else [])
        if isinstance(u, str) and urlsplit(u).scheme == URI_SCHEME
    ]
    if len(uris) != 1:
        raise IdentityError(f"SM2 certificate carries {len(uris)} medfed:// identity URIs, not 1")
    parts = urlsplit(uris[0])
    segments = parts.path.split("/")
    if len(segments) != 3 or segments[0] or not all(segments[1:]) or not parts.netloc:
        raise IdentityError(f"malformed identity URI {uris[0]!r}")
    try:
        role = Role(segments[1])
    except ValueError:
        raise IdentityError(f"identity URI {uris[0]!r} names an unknown role") from None
    identity = PeerIdentity(name=unquote(segments[2]), role=role, study_id=unquote(parts.netloc))
    if identity.study_id != study_id:
        raise IdentityError(f"certificate is for study {identity.study_id!r}, CA for {study_id!r}")
    return identity


def verify_gm_certificate(
    cert_pem: bytes, ca_cert_pem: bytes, *, now: datetime | None = None
) -> VerifiedGmCertificate:
    """Verify an SM2 party certificate against the study's SM2 CA certificate at ``now``.

    Checks the CA (self-signed SM2-with-SM3, a CA, in its validity period), then the leaf:
    issuer name, SM2-with-SM3 signature by the CA key, validity period, not a CA, key usage
    digitalSignature, SM2 256-bit key (key policy) and one ``medfed://`` URI of the CA's
    study. CryptoError for a bad signature; IdentityError (its base) for everything else.
    """
    when = now or datetime.now(UTC)
    # A naive ``now`` is UTC, as in ``identity.check_validity``.
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    gm = _gm()
    ca, leaf = _load(ca_cert_pem), _load(cert_pem)
    ca_key = gm.load_verify_key_der(ca.public_key.dump())
    _checked(ca, ca_key, when, "SM2 CA certificate")
    if not ca.ca or ca.subject != ca.issuer:
        raise IdentityError("the SM2 CA certificate is not a self-signed CA")
    if leaf.issuer != ca.subject:
        raise IdentityError("SM2 certificate was not issued by this study's SM2 CA")
    _checked(leaf, ca_key, when, "SM2 certificate")
    if leaf.ca or "digital_signature" not in (
        leaf.key_usage_value.native if leaf.key_usage_value else ()
    ):
        raise IdentityError("SM2 certificate is not a party signing certificate")
    ca_cn = ca.subject.native.get("common_name", "")
    if not ca_cn.startswith(_CA_CN_PREFIX):
        raise IdentityError("the SM2 CA certificate is not a medfed study CA")
    return VerifiedGmCertificate(
        identity=_identity(leaf, ca_cn.removeprefix(_CA_CN_PREFIX)),
        public_key=gm.load_verify_key_der(leaf.public_key.dump()),
        serial_number=leaf.serial_number,
        not_after=leaf.not_valid_after,
    )
