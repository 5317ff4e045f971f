"""A private Postfix instance on loopback that delivers every recipient into one Maildir.

Started with its own configuration directory, queue and log file, so it never touches the machine's own mail
system. Needs Debian's postfix package and root (Postfix's master runs as root, delivery as a given uid).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"


def postfix_available() -> bool:
    return os.path.exists(POSTFIX) and os.geteuid() == 0 and shutil.which("swaks") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_root() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="dlpgate-postfix-"))


@dataclass
class Postfix:
    root: Path
    port: int = 0
    extra_main: tuple[str, ...] = ()
    """main.cf lines after the defaults (a later line wins: e.g. relay instead of the local Maildir)."""

    @property
    def maildir(self) -> Path:
        return self.root / "vmail" / "mail"

    def messages(self) -> list[bytes]:
        new = self.maildir / "new"
        return [p.read_bytes() for p in sorted(new.iterdir())] if new.is_dir() else []

    def wait_for(self, count: int, timeout: float = 20) -> list[bytes]:
        end = time.time() + timeout
        while time.time() < end:
            msgs = self.messages()
            if len(msgs) >= count:
                return msgs
            time.sleep(0.2)
        return self.messages()

    def start(self) -> None:
        # Postfix's own users must traverse the path: pytest's tmp_path (0700) will not do.
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        conf = self.root / "etc"
        queue = self.root / "queue"
        data = self.root / "data"
        vmail = self.root / "vmail"
        for d in (conf, queue, data, vmail):
            d.mkdir(parents=True, exist_ok=True)
        shutil.chown(data, "postfix")
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chown(vmail, nobody.pw_uid, nobody.pw_gid)
        self.port = _free_port()
        (conf / "main.cf").write_text(
            "\n".join(
                [
                    "compatibility_level = 3.6",
                    f"queue_directory = {queue}",
                    f"data_directory = {data}",
                    "mail_owner = postfix",
                    "setgid_group = postdrop",
                    "myhostname = mta.test",
                    "mydomain = mta.test",
                    "myorigin = mta.test",
                    "mydestination =",
                    "relayhost =",
                    "inet_interfaces = 127.0.0.1",
                    "inet_protocols = ipv4",
                    "mynetworks = 127.0.0.0/8",
                    "smtpd_relay_restrictions = permit_mynetworks, reject",
                    "smtpd_forbid_bare_newline = yes",
                    "smtpd_forbid_bare_newline_exclusions =",
                    f"virtual_mailbox_domains = regexp:{conf}/domains",
                    f"virtual_mailbox_base = {vmail}",
                    "virtual_mailbox_maps = static:mail/",
                    f"virtual_uid_maps = static:{nobody.pw_uid}",
                    f"virtual_gid_maps = static:{nobody.pw_gid}",
                    "virtual_mailbox_limit = 0",
                    "message_size_limit = 104857600",
                    f"maillog_file = {self.root}/maillog",
                    f"maillog_file_prefixes = {self.root}",
                    "smtputf8_enable = yes",
                    "disable_dns_lookups = yes",
                    "smtp_dns_support_level = disabled",
                    "biff = no",
                    *self.extra_main,
                    "",
                ]
            )
        )
        (conf / "domains").write_text("/./ OK\n")
        master = Path("/etc/postfix/master.cf").read_text()
        master = master.replace("smtp      inet  n       -       y       -       -       smtpd",
                                f"127.0.0.1:{self.port} inet n - n - - smtpd")
        lines = []
        for line in master.splitlines():
            if line.startswith("smtp ") and " inet " in line:
                line = f"127.0.0.1:{self.port} inet n - n - - smtpd"
            lines.append(line.replace(" y ", " n "))
        lines.append("postlog   unix-dgram n  -       n       -       1       postlogd")
        (conf / "master.cf").write_text("\n".join(dict.fromkeys(lines)) + "\n")
        env = {**os.environ, "MAIL_CONFIG": str(conf)}
        subprocess.run([POSTFIX, "-c", str(conf), "check"], check=True, env=env, capture_output=True)
        subprocess.run([POSTFIX, "-c", str(conf), "start"], check=True, env=env, capture_output=True)
        end = time.time() + 20
        while time.time() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("postfix did not start; see " + str(self.root / "maillog"))

    def stop(self) -> None:
        """``postfix stop``, bounded: its ``master -t`` and ``postlog`` helpers were seen to block for minutes on
        the logging socket of a postlogd that had gone; then the master is killed by its pid file."""
        try:
            subprocess.run([POSTFIX, "-c", str(self.root / "etc"), "stop"], capture_output=True, timeout=30,
                           env={**os.environ, "MAIL_CONFIG": str(self.root / "etc")})
        except subprocess.TimeoutExpired:
            pid_file = self.root / "queue" / "pid" / "master.pid"
            try:
                os.kill(int(pid_file.read_text().split()[0]), 9)
            except (OSError, ValueError, IndexError):
                pass
