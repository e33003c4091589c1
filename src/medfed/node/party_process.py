"""``medfed party``: a data party or the arbiter of a vertical study, as its own process.

Like a hospital node it connects out to the dispatcher and never listens; the study file
in its kit says which part it plays (label party, feature party, or arbiter).
"""

from __future__ import annotations

import logging
from pathlib import Path

from medfed.core.config import load_study
from medfed.data.feature_tables import load_party_table
from medfed.errors import ConfigError, IdentityError
from medfed.node.handshake import authenticate_to_dispatcher
from medfed.node.relay import RelayParty, run_relay_party
from medfed.node.vertical import ArbiterAdapter, GuestAdapter, HostAdapter
from medfed.pki import load_kit
from medfed.roles import Role
from medfed.transport.client import ClientTLS, DispatcherClient

log = logging.getLogger("medfed.node")


def run_party_process(
    kit_dir: Path, data_path: Path | None, *, dispatcher: str | None = None, connect_timeout: float = 30.0
) -> bool:
    """Take part in the kit's vertical study; returns whether it ended well."""
    kit = load_kit(kit_dir)
    study = load_study(kit_dir / "study.toml")
    if study.vertical is None:
        raise ConfigError(f"study {study.study_id} is not vertical; hospitals of other studies run 'medfed node'")
    party: RelayParty
    if kit.role is Role.AUX and kit.name == study.vertical.arbiter:
        party = ArbiterAdapter(study, kit.name)
    elif kit.role is Role.DATA:
        if data_path is None:
            raise ConfigError(f"{kit.name} is a data party: give its feature table with --data")
        table = load_party_table(data_path)
        adapter = GuestAdapter if kit.name == study.vertical.label_party else HostAdapter
        party = adapter(study, kit.name, table)
    else:
        raise IdentityError(f"kit {kit_dir} ({kit.role.value}) plays no part in vertical study {study.study_id}")
    target = dispatcher or f"{kit.dispatcher_host}:{kit.dispatcher_port}"
    tls = ClientTLS(kit.key_path.read_bytes(), kit.cert_path.read_bytes(), kit.ca_path.read_bytes())
    log.info("%s (%s) connecting to %s", kit.name, type(party).__name__, target)
    client = DispatcherClient(target, tls, connect_timeout=connect_timeout)
    try:
        authenticate_to_dispatcher(client, kit)
        end = run_relay_party(party, client)
    finally:
        client.close()
    if not end.ok:
        log.error("%s: study %s failed: %s", kit.name, end.study_id, end.reason)
    return end.ok
