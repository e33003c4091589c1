"""What the dispatcher's web console needs to know to start, checked before it serves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from medfed.authn import Argon2Params, LockoutPolicy
from medfed.errors import ConfigError


@dataclass(frozen=True)
class ConsoleSettings:
    """The console's configuration; paths may be relative to the working directory.

    ``kit`` is the dispatcher's startup kit: its certificate and key serve HTTPS, its study
    names the hospitals and the crypto suite. ``store`` is the task store (a path or an SQL
    URL). ``runs`` holds run folders: the local worker writes there and the Reports page reads
    there. ``owner_kits`` maps a hospital to its data owner's kit, for the hospitals whose
    owner signs approvals on this machine; without it the owner can only deny here.
    """

    kit: Path
    store: str
    users: Path
    grants: Path | None = None
    ledger: Path | None = None
    runs: Path = Path("runs")
    owner_kits: Mapping[str, Path] = field(default_factory=dict)
    data_dir: Path | None = None
    worker: bool = True
    node_id: str = "console-local"
    worker_capacity: int = 1
    lease_seconds: float = 120.0
    session_ttl_s: int = 8 * 3600
    refresh_ms: int = 1000
    argon2: Argon2Params = field(default_factory=Argon2Params)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)

    def __post_init__(self) -> None:
        object.__setattr__(self, "owner_kits", MappingProxyType(dict(self.owner_kits)))
        if not (self.kit / "kit.toml").is_file():
            raise ConfigError(f"{self.kit} is not a startup kit (no kit.toml): pass the dispatcher's kit")
        if not self.store:
            raise ConfigError("the console needs a task store: a file path or a database URL")
        if self.worker_capacity < 1:
            raise ConfigError(f"worker capacity must be >= 1, not {self.worker_capacity}")
        if self.lease_seconds <= 0 or self.session_ttl_s <= 0 or self.refresh_ms < 100:
            raise ConfigError("lease_seconds and session_ttl_s must be > 0, refresh_ms >= 100")
        for hospital, path in self.owner_kits.items():
            if not (path / "kit.toml").is_file():
                raise ConfigError(f"owner kit for {hospital!r} at {path} has no kit.toml")
