"""gunicorn serving wsgi:app against the bench database, with production settings, over HTTPS.

The certificate is self-signed and made at run time (the `cryptography` package, else the openssl
command). Without either the server falls back to plain HTTP with SESSION_COOKIE_SECURE=false:
a client will not send a Secure cookie over http:// (RELIABILITY.md), so the fallback must turn
it off — and every response's content is checked either way.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.settings import BENCH_AUDIT_KEY, BENCH_SECRET_KEY, INSTANCE_DIR, OUT_DIR, ROOT

READY_TIMEOUT = 60.0


@dataclass
class Server:
    base_url: str
    verify: str | bool  # the certificate to trust (requests' `verify`), True for plain HTTP
    process: subprocess.Popen
    log_path: Path
    description: str

    def stop(self) -> None:
        """Stop the gunicorn master this bench started (it stops its own workers)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _certificate_with_cryptography(cert: Path, key: Path) -> bool:
    try:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return False
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    public = private.public_key()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return True


def _certificate_with_openssl(cert: Path, key: Path) -> bool:
    openssl = shutil.which("openssl")
    if not openssl:
        return False
    result = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        capture_output=True, check=False,
    )
    return result.returncode == 0


def make_certificate(directory: Path) -> tuple[Path, Path, str] | None:
    """A fresh self-signed certificate for 127.0.0.1: (cert, key, how it was made), or None."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "bench-cert.pem", directory / "bench-key.pem"
    if _certificate_with_cryptography(cert, key):
        return cert, key, "cryptography"
    if _certificate_with_openssl(cert, key):
        return cert, key, "openssl"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(url: str, base_url: str, https: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": url,
        "SECRET_KEY": BENCH_SECRET_KEY,
        "AUDIT_HMAC_KEY": BENCH_AUDIT_KEY,
        "PUBLIC_BASE_URL": base_url,
        "STAFFROOM_INSTANCE": str(INSTANCE_DIR),
        "AUDIT_CHECKPOINT_PATH": str(OUT_DIR / "audit-checkpoints.jsonl"),
        "LOG_LEVEL": "WARNING",
        "NOTIFY_ENQUEUE_ON_COMMIT": "false",  # no worker runs during the bench
    })
    env.pop("CELERY_BROKER_URL", None)  # the file broker inside bench/out: nothing reaches a shared Redis
    if https:
        env["STAFFROOM_ENV"] = "production"
    else:  # production refuses insecure cookies; development differs only in mail/SMS backends
        env.update({"STAFFROOM_ENV": "development", "SESSION_COOKIE_SECURE": "false"})
    return env


def _wait_ready(base_url: str, verify: str | bool, process: subprocess.Popen, log_path: Path) -> None:
    import requests

    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            if requests.get(f"{base_url}/auth/login", verify=verify, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer within {READY_TIMEOUT:.0f} s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(url: str, *, workers: int, threads: int, https: bool = True) -> Server:
    """Start gunicorn (gthread workers) on a free loopback port and wait until the login page answers."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    certificate = make_certificate(OUT_DIR / "tls") if https else None
    port = free_port()
    scheme = "https" if certificate else "http"
    base_url = f"{scheme}://127.0.0.1:{port}"
    log_path = OUT_DIR / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
               "--error-logfile", str(log_path), "--log-level", "warning", "--timeout", "60"]
    if certificate:
        command += ["--certfile", str(certificate[0]), "--keyfile", str(certificate[1])]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=_environment(url, base_url, bool(certificate)),
                                   stdout=log, stderr=subprocess.STDOUT)
    verify: str | bool = str(certificate[0]) if certificate else True
    try:
        _wait_ready(base_url, verify, process, log_path)
    except BaseException:
        Server(base_url, verify, process, log_path, "").stop()
        raise
    how = (f"HTTPS, self-signed certificate made with {certificate[2]}" if certificate
           else "plain HTTP, SESSION_COOKIE_SECURE=false (neither cryptography nor openssl available)")
    description = (f"gunicorn wsgi:app, {workers} workers × {threads} threads (gthread), "
                   f"STAFFROOM_ENV={'production' if certificate else 'development'}, {how}")
    return Server(base_url, verify, process, log_path, description)
