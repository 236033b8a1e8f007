"""Browser-like users for the load tests: log in with password and TOTP, then time page loads.

A page counts only when it is the page asked for: status 200, no redirect, the logged-in
navigation present (a logged-out login page would otherwise look like a fast success), and the
page's own content check.
"""
from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pyotp
import requests

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
LOGGED_IN_MARK = 'action="/auth/logout"'
TIMEOUT = 15.0


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise LoginFailed("no CSRF token on the page")
    return match.group(1) or match.group(2)


class LoginFailed(RuntimeError):
    pass


@dataclass
class WebUser:
    base_url: str
    verify: str | bool
    email: str
    display_name: str
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self):
        # Without trust_env, REQUESTS_CA_BUNDLE cannot override `verify`, and no proxy or .netrc is consulted.
        self.session.trust_env = False
        self.session.verify = self.verify

    def _post_form(self, path: str, data: dict) -> requests.Response:
        url = self.base_url + path
        page = self.session.get(url, timeout=TIMEOUT)
        data = {**data, "csrf_token": csrf_token(page.text)}
        # Over HTTPS Flask-WTF also wants a same-origin Referer, as a browser sends.
        return self.session.post(url, data=data, headers={"Referer": url}, allow_redirects=False, timeout=TIMEOUT)

    def log_in(self, password: str, totp_secret: str | None, counter: int | None) -> float:
        """Password, then the TOTP code of time step `counter`; returns the seconds it took.

        :raises LoginFailed: when any step answers anything but the expected redirect.
        """
        started = time.perf_counter()
        answer = self._post_form("/auth/login", {"email": self.email, "password": password})
        if answer.status_code != 302 or "/auth/login" in answer.headers.get("Location", ""):
            raise LoginFailed(f"password step answered {answer.status_code}")
        landing = self.session.get(self.base_url + "/", timeout=TIMEOUT)  # admins are sent to the second factor
        if "/auth/two-factor" in landing.url:
            if not totp_secret or counter is None:
                raise LoginFailed("a second factor is asked for and no secret is known")
            code = pyotp.TOTP(totp_secret).generate_otp(counter)
            answer = self._post_form("/auth/two-factor", {"code": code})
            if answer.status_code != 302 or "/auth/two-factor" in answer.headers.get("Location", ""):
                raise LoginFailed(f"second-factor step answered {answer.status_code}")
        elapsed = time.perf_counter() - started
        home = self.session.get(self.base_url + "/", allow_redirects=False, timeout=TIMEOUT)
        if problem := page_problem(home, self):
            raise LoginFailed(f"after login the dashboard is not shown: {problem}")
        return elapsed


def _attempt(user: WebUser, password: str, secret: str, counter: int) -> float | str:
    try:
        return user.log_in(password, secret, counter)
    except (LoginFailed, requests.RequestException) as error:
        return f"{type(error).__name__}: {error}"[:160]


def _usable_counter(at_least: int) -> int:
    """The earliest TOTP step ≥ `at_least` that the app accepts now (it allows one step either side)."""
    while True:
        now = int(time.time() // 30)
        if at_least <= now + 1:
            return max(at_least, now)
        time.sleep(30 - time.time() % 30 + 0.5)


def log_in_all(users: list[WebUser], counters: dict[str, int], password: str,
               secret: str) -> tuple[list[WebUser], list[float], list[str]]:
    """Log every user in at once; retry failures one at a time on a fresh session with a later code.

    Returns the logged-in users, the seconds of the logins that passed first time, and why the others failed.
    :raises LoginFailed: when a retry fails too.
    """
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        outcomes = list(pool.map(lambda u: _attempt(u, password, secret, counters[u.email]), users))
    result, seconds, failures = [], [], []
    for user, outcome in zip(users, outcomes, strict=True):
        if isinstance(outcome, float):
            result.append(user)
            seconds.append(outcome)
            continue
        failures.append(outcome)
        fresh = WebUser(user.base_url, user.verify, user.email, user.display_name)
        fresh.log_in(password, secret, _usable_counter(counters[user.email] + 1))
        result.append(fresh)
    return result, seconds, failures


def page_problem(response: requests.Response, user: WebUser,
                 must_contain: str | re.Pattern | None = None) -> str | None:
    """Why this response is not the logged-in page asked for, or None when it is."""
    if response.status_code != 200:
        where = response.headers.get("Location", "")
        return f"HTTP {response.status_code}" + (f" → {where.split('?')[0]}" if where else "")
    body = response.text
    if LOGGED_IN_MARK not in body or user.display_name not in body:
        return "logged-out page"
    if isinstance(must_contain, re.Pattern):
        if not must_contain.search(body):
            return f"content missing: /{must_contain.pattern}/"
    elif must_contain and must_contain not in body:
        return f"content missing: {must_contain!r}"
    return None


@dataclass(frozen=True)
class PageRequest:
    path: str
    must_contain: str | re.Pattern | None = None


@dataclass
class LoadResult:
    samples: list[float]
    errors: int
    reasons: Counter
    seconds: float

    @property
    def throughput(self) -> float:
        return (len(self.samples) + self.errors) / self.seconds if self.seconds else 0.0


def _one(user: WebUser, request: PageRequest) -> tuple[float, str | None]:
    started = time.perf_counter()
    try:
        response = user.session.get(user.base_url + request.path, allow_redirects=False, timeout=TIMEOUT)
        elapsed = time.perf_counter() - started
        return elapsed, page_problem(response, user, request.must_contain)
    except requests.RequestException as error:
        return time.perf_counter() - started, type(error).__name__


def run_load(users: list[WebUser], pick: Callable[[random.Random], PageRequest], *, duration: float,
             warmup: float, seed: int = 0, think: float = 0.0) -> LoadResult:
    """Every user requests pages from `pick` for `warmup` (not counted) then `duration` seconds, pausing about
    `think` seconds between requests (0: back to back, a closed loop where latency ≈ users / throughput).

    Each pause is drawn between 0.5 and 1.5 × `think` (seeded per user), in the warm-up too: with one fixed pause
    users who start together stay in lockstep and the server sees 20 requests at once every `think` seconds.
    """
    samples: list[list[float]] = [[] for _ in users]
    problems: list[Counter] = [Counter() for _ in users]
    start_gate = threading.Barrier(len(users) + 1)
    timing = {}

    def worker(index: int) -> None:
        rng, pauses = random.Random(f"{seed}|{index}"), random.Random(f"{seed}|{index}|think")

        def pause() -> None:
            if think:
                time.sleep(think * pauses.uniform(0.5, 1.5))

        start_gate.wait()
        while time.monotonic() < timing["measure_from"]:
            _one(users[index], pick(rng))
            pause()
        while time.monotonic() < timing["stop_at"]:
            elapsed, problem = _one(users[index], pick(rng))
            if problem:
                problems[index][problem] += 1
            else:
                samples[index].append(elapsed)
            pause()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(users))]
    for thread in threads:
        thread.start()
    now = time.monotonic()
    timing.update(measure_from=now + warmup, stop_at=now + warmup + duration)
    start_gate.wait()
    for thread in threads:
        thread.join(timeout=warmup + duration + 2 * TIMEOUT)
    reasons = sum(problems, Counter())
    return LoadResult([s for per_user in samples for s in per_user], sum(reasons.values()), reasons, duration)
