"""What every benchmark receives: the database, the in-process app, and on demand a running server
with logged-in bench admins. Everything started here is stopped by `close()`."""
from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import sqlalchemy as sa

from bench.registry import Figure
from bench.settings import BENCH_PASSWORD, BENCH_TOTP_SECRET, bench_admin_email


@dataclass
class Options:
    duration: float = 10.0  # measured seconds per web benchmark
    warmup: float = 2.0
    users: int = 20  # concurrent users
    think: float = 0.0  # seconds each user pauses between two requests
    workers: int = field(default_factory=lambda: 2 * (os.cpu_count() or 1) + 1)
    threads: int = 4
    https: bool = True
    import_runs: int = 3
    time_budget: float = 30.0  # seconds a single benchmark should stay within
    seed: int = 2026


class Context:
    def __init__(self, url: str, options: Options):
        self.url = url
        self.options = options
        self.login_figure: Figure | None = None
        self._server = None
        self._server_error: BaseException | None = None
        self._users = None

    @cached_property
    def app(self):
        """The app bound to the bench database (bench config: nothing is sent anywhere)."""
        from bench.database import make_app

        return make_app(self.url)

    def route_exists(self, path: str, method: str = "GET") -> bool:
        """True when the app has a route answering `path` (e.g. "/staff/" or "/staff/1")."""
        from werkzeug.exceptions import MethodNotAllowed, NotFound

        try:
            self.app.url_map.bind("localhost").match(path, method=method)
        except (NotFound, MethodNotAllowed):
            return False
        return True

    def scalars(self, statement: str, **params) -> list:
        """Rows of one column from the bench database."""
        from app.extensions import db

        with self.app.app_context():
            return list(db.session.scalars(sa.text(statement), params))

    def random(self, stream: str):
        """A random stream of the bench seed (the same choices on every run)."""
        import random

        return random.Random(f"bench|{self.options.seed}|{stream}")

    @staticmethod
    def sql(statement: str):
        return sa.text(statement)

    def rows(self, statement: str, **params) -> list[tuple]:
        """Rows from the bench database as tuples."""
        from app.extensions import db

        with self.app.app_context():
            return [tuple(row) for row in db.session.execute(sa.text(statement), params)]

    def server(self):
        """gunicorn on the bench database, started once (a failure to start is remembered, not retried)."""
        if self._server_error is not None:
            raise RuntimeError(f"the web server could not start: {self._server_error}")
        if self._server is None:
            from bench import server

            try:
                self._server = server.start(self.url, workers=self.options.workers, threads=self.options.threads,
                                            https=self.options.https)
            except Exception as error:
                self._server_error = error
                raise
        return self._server

    def _next_counters(self, emails: list[str]) -> dict[str, int]:
        """A TOTP time step each admin has not used yet (the app refuses a step used before)."""
        from app.extensions import db

        with self.app.app_context():
            rows = db.session.execute(sa.text("SELECT email, totp_last_counter FROM users WHERE email IN :emails")
                                      .bindparams(sa.bindparam("emails", expanding=True)), {"emails": emails})
            last = {email: counter for email, counter in rows}
        now = int(time.time() // 30)
        if any((last.get(e) or 0) >= now + 1 for e in emails):
            time.sleep(30 - time.time() % 30 + 1)  # every usable step is spent: wait for the next one
            now = int(time.time() // 30)
        return {e: now if (last.get(e) or 0) < now else now + 1 for e in emails}

    def web_users(self):
        """`options.users` bench admins logged in (password + TOTP) on the running server, each its own session."""
        if self._users is not None:
            return self._users
        from bench.web import WebUser, log_in_all

        server = self.server()
        count = self.options.users
        emails = [bench_admin_email(n) for n in range(1, count + 1)]
        known = set(self.scalars("SELECT email FROM users WHERE email LIKE 'bench-admin-%'"))
        missing = [e for e in emails if e not in known]
        if missing:
            raise RuntimeError(f"{len(missing)} bench admins are missing: generate with --bench-admins {count}")
        counters = self._next_counters(emails)
        users = [WebUser(server.base_url, server.verify, e, f"Bench Admin {n:02d}") for n, e in enumerate(emails, 1)]
        users, seconds, failures = log_in_all(users, counters, BENCH_PASSWORD, BENCH_TOTP_SECRET)
        notes = ["argon2id dominates; measured separately, as RELIABILITY.md says"]
        notes += [f"{n} × first attempt failed: {reason}" for reason, n in Counter(failures).most_common()]
        if failures:
            notes.append("failed logins were retried one at a time (they are not in the timings)")
        self.login_figure = Figure.from_samples(f"web: login, password + TOTP ({count} at once)", seconds,
                                                errors=len(failures), notes=notes)
        self._users = users
        return users

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if "app" in self.__dict__:
            from bench.database import dispose

            dispose(self.app)
