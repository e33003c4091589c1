"""A provisioned study, console accounts and a console served over real TLS on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from medfed.authz import GrantBook, SqliteAuthzStore
from medfed.authz.study_use import grant_request
from medfed.console import Accounts, running_console
from medfed.core.config import load_study
from medfed.crypto import get_suite
from medfed.dispatcher.evidence import Evidence
from medfed.dispatcher.process import owner_keys
from medfed.orchestration.runs import DEMO_STUDY
from medfed.pki.suite_identity import signing_key
from medfed.provision import provision_study
from tests.unit.console.console_support import FAST, PASSWORD, USERS, Study, settings_for


@pytest.fixture(scope="session")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("console")
    config = load_study(DEMO_STUDY)
    provision_study(config, root / "kits")
    kits = root / "kits"
    # Two pending data-use applications, as the dispatcher files them.
    suite = get_suite(config.security.suite.value)
    book = GrantBook(SqliteAuthzStore(root / "grants.db"), owner_keys(config, kits / "dispatcher"))
    now = time.time()
    for hospital in ("hospital-a", "hospital-b"):
        book.request(grant_request(config, hospital, "initiator", suite, now=now), now=now)
    # The notary's first entries for the study.
    key = signing_key(kits / "dispatcher", config.security.suite.value)
    Evidence(config, root / "ledger.db", name="dispatcher", key=key, suite=suite).study_started()
    accounts = Accounts(root / "users.db")
    for name, (role, party) in USERS.items():
        accounts.add(name, PASSWORD, role, party=party, params=FAST)
    accounts.close()
    return Study(kits, root)


@pytest.fixture(scope="session")
def console_url(study: Study) -> Iterator[str]:
    """A console with no local worker: tasks stay queued, so they can be inspected and cancelled."""
    with running_console(settings_for(study, "idle", worker=False)) as url:
        yield url


