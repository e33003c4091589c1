"""The dispatcher's kit as the console reads it: identity, study, suite, the parties' keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medfed.core.config import StudyConfig, load_study
from medfed.crypto import Suite, VerifyKey, get_suite
from medfed.dispatcher.process import owner_keys, peer_key
from medfed.errors import IdentityError
from medfed.pki import StartupKit, load_kit
from medfed.pki.suite_identity import signing_key
from medfed.roles import Role


@dataclass(frozen=True)
class StudyContext:
    kit: StartupKit
    study: StudyConfig
    suite: Suite

    @property
    def suite_name(self) -> str:
        return self.study.security.suite.value

    def owner_keys(self) -> dict[str, VerifyKey]:
        """Each hospital's data-owner key, from the certificates in the dispatcher's kit."""
        return owner_keys(self.study, self.kit.directory)

    def ledger_keys(self) -> dict[str, VerifyKey]:
        """Every key a ledger entry may be signed with: the dispatcher's own (the notary runs
        in its process) and those of the parties whose certificates the kit holds."""
        keys = {self.kit.name: signing_key(self.kit.directory, self.suite_name).verify_key()}
        for party in self.study.parties:
            if party.name in keys:
                continue
            try:
                keys[party.name] = peer_key(self.study, self.kit.directory, party.name)
            except IdentityError:
                continue  # not every party's certificate is in the dispatcher's kit
        return keys


def load_context(kit_dir: Path) -> StudyContext:
    """Load and check the dispatcher's kit; IdentityError if it belongs to another role."""
    kit = load_kit(kit_dir)
    if kit.role is not Role.DISPATCHER:
        raise IdentityError(f"kit {kit_dir} is for role {kit.role.value}; the console runs with the dispatcher's kit")
    study = load_study(kit_dir / "study.toml")
    if study.study_id != kit.study_id:
        raise IdentityError(f"kit is for study {kit.study_id!r}, its study.toml is {study.study_id!r}")
    return StudyContext(kit, study, get_suite(study.security.suite.value))
