"""`dlpgate check-config`: validate every config file, then run samples/ through the pipeline (like Fuglu's
``--lint``): a policy that loads but misjudges its own examples is still a broken policy."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli import add_config_argument

if TYPE_CHECKING:
    from gateway.config import Config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("check-config", help="validate config files (and run the sample messages)")
    add_config_argument(p)
    p.add_argument(
        "--samples",
        metavar="DIR",
        default=None,
        help="folder with expectations.yaml and .eml samples to check (default: samples/policy if present)",
    )
    p.add_argument("--no-samples", action="store_true", help="only validate the files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.config import load
    from gateway.config_errors import ConfigError

    try:
        cfg = load(args.config)
        if cfg.gateway.server.auth.users_file is not None:
            from gateway.smtp.auth import UserDatabase

            UserDatabase.load(cfg.resolve(cfg.gateway.server.auth.users_file))
        from gateway.scan import recipient_classifier

        recipient_classifier(cfg.gateway.organisation.domains, cfg.policy)
        _check_dkim_key(cfg)
        _check_oidc_secret(cfg)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{problem.file}: {problem.key or '<top>'}: {problem.expected}", file=sys.stderr)
        return 2
    print(f"config ok: {cfg.directory}")
    from gateway.policy.config import policy_warnings

    for warning in policy_warnings(cfg.policy):
        print(f"warning: {cfg.directory / cfg.gateway.files.policy}: {warning}", file=sys.stderr)
    from gateway.mime.ocr import ocr_problem

    if cfg.gateway.scan.enabled and (ocr_warning := ocr_problem(cfg.gateway.extraction)):
        print(f"warning: {cfg.directory / 'gateway.yaml'}: {ocr_warning}", file=sys.stderr)
    if args.no_samples:
        return 0
    samples = Path(args.samples) if args.samples else Path("samples/policy")
    if not (samples / "expectations.yaml").is_file():
        return 0
    from gateway.expectations import check_expectations

    failures = check_expectations(cfg, samples)
    for line in failures:
        print(line, file=sys.stderr)
    print(f"samples: {'ok' if not failures else f'{len(failures)} mismatches'} ({samples})")
    if failures:
        # After a deliberate policy change the samples' expectations are simply out of date: say what to do.
        print(
            f"  if the policy change is intended, update the expected decision/rules of those samples in "
            f"{samples / 'expectations.yaml'} (`dlpgate scan --json FILE` shows the new outcome); "
            f"to validate only the files, run `dlpgate check-config --no-samples`",
            file=sys.stderr,
        )
    return 1 if failures else 0


def _check_dkim_key(cfg: Config) -> None:
    """A DKIM key that cannot sign would turn every changed message into a 451 at run time: try it here, on a
    tiny message, so the operator learns it from ``check-config`` (the error names the file, never the key)."""
    dkim_cfg = cfg.gateway.dkim
    if not dkim_cfg.enabled or dkim_cfg.key_file is None:
        return
    from gateway.actions.dkim import DkimError, sign
    from gateway.config_errors import ConfigError

    try:
        sign(b"From: check@example.org\r\nSubject: check\r\n\r\ncheck\r\n", dkim_cfg, cfg.resolve(dkim_cfg.key_file))
    except DkimError as exc:
        raise ConfigError.one(cfg.directory / "gateway.yaml", "dkim.key_file", str(exc)) from None


def _check_oidc_secret(cfg: Config) -> None:
    """Single sign-on with a client secret cannot start the console when the variable holding it is unset (or
    empty): say so here rather than at ``serve``. The value is never printed, only the variable's name."""
    oidc = cfg.gateway.console.oidc
    if not (oidc.enabled and oidc.client_secret_env) or os.environ.get(oidc.client_secret_env):
        return
    from gateway.config_errors import ConfigError

    raise ConfigError.one(
        cfg.directory / "gateway.yaml", "console.oidc.client_secret_env",
        f"the environment variable {oidc.client_secret_env} named here is not set (or empty): set it to the "
        f"console's client secret at the identity provider, or remove client_secret_env for a public client "
        f"(PKCE only)",
    )
