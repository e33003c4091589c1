"""The dispatcher's web console (5.7.1.1, operator side; 5.4.2.3c-d; 5.5.2).

Served over HTTPS with the dispatcher's certificate: a person logs in with a password
(argon2id, lockout), then sees and launches tasks with live progress, watches the nodes,
decides data-use applications (a hospital's data owner only), reads the notary's ledger with
its verification verdict; the result party alone sees task results and opens the run
reports (5.4.2.3g). Request bodies are capped at 1 MiB and file uploads refused before
anything parses them (:mod:`medfed.console.limits`).

* :class:`ConsoleSettings` — what to serve; :func:`create_app` — the ASGI app;
* :func:`serve_console` — serve until interrupted; :func:`running_console` — in a thread;
* :class:`Accounts` — the people who may log in (``medfed console add-user``).
"""

from medfed.console.accounts import Account, Accounts
from medfed.console.app import create_app
from medfed.console.server import running_console, serve_console, tls_context
from medfed.console.settings import ConsoleSettings

__all__ = [
    "Account",
    "Accounts",
    "ConsoleSettings",
    "create_app",
    "running_console",
    "serve_console",
    "tls_context",
]
