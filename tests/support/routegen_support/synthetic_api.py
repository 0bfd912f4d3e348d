"""A synthetic REST API of about 50 templates for `routegen learn` / `coverage` / `top` tests.

Parameters are what real APIs carry: user and organisation names and repository names drawn
from finite pools (each recurring), slugs that are nearly always new, numeric IDs, UUIDs, git
SHAs, dates. Resource words sit beside ID parameters (`/orders/search` beside `/orders/{id}`)
and a dozen sub-resources share one position (`/repos/{owner}/{repo}/issues`, `/pulls`, …), the
cases where a learner must keep words literal. Template popularity is Zipf-like.

`sample(seed, n)` → [(method, path, template)], deterministic per seed; a template's
parameters are written `{name}`. `same_template(route_template, truth)` compares two templates
ignoring parameter names.
"""

from __future__ import annotations

import random
import re
import uuid

SYLLABLES = ["ka", "lo", "mi", "ra", "to", "ne", "su", "vi", "da", "pe", "zo", "ri", "an", "el", "or", "ul"]
WORDS = ["fast", "river", "blue", "stone", "quiet", "paper", "light", "cloud", "north", "green", "silver",
         "maple", "ocean", "ember", "falcon", "harbor", "meadow", "orbit", "prism", "summit"]
SUB_RESOURCES = ["issues", "pulls", "commits", "branches", "tags", "releases", "hooks", "labels",
                 "milestones", "forks", "stargazers", "topics"]


def _name(rng: random.Random) -> str:
    """A user-name-like word: syllables, sometimes a digit suffix or a dash."""
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
    roll = rng.random()
    if roll < 0.25:
        word += str(rng.randint(1, 99))
    elif roll < 0.35:
        word += "-" + rng.choice(WORDS)
    return word


def _pool(seed: int, size: int, make) -> list[str]:
    rng = random.Random(seed)
    values: list[str] = []
    while len(values) < size:
        value = make(rng)
        if value not in values and value not in SUB_RESOURCES:
            values.append(value)
    return values


# Fixed pools shared by every sample: a fresh sample meets known and new values alike.
USERS = _pool(1, 3000, _name)
ORGS = _pool(2, 400, _name)
REPOS = _pool(3, 3000, lambda r: f"{r.choice(WORDS)}-{_name(r)}")


def _slug(rng: random.Random) -> str:
    return "-".join(rng.choice(WORDS) for _ in range(rng.randint(3, 5))) + f"-{rng.randint(1, 9999)}"


VALUES = {
    "user": lambda r: r.choice(USERS),
    "org": lambda r: r.choice(ORGS),
    "owner": lambda r: r.choice(USERS),
    "repo": lambda r: r.choice(REPOS),
    "slug": _slug,
    "id": lambda r: str(r.randint(1, 10_000_000)),
    "number": lambda r: str(r.randint(1, 50_000)),
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "sha": lambda r: "%040x" % r.getrandbits(160),
    "date": lambda r: f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
}

# (method, template); the parameter name picks its values from VALUES.
TEMPLATES = [
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("GET", "/users/{user}"),
    ("PATCH", "/users/{user}"),
    ("GET", "/users/{user}/repos"),
    ("GET", "/users/{user}/followers"),
    ("GET", "/users/{user}/starred"),
    ("GET", "/orgs/{org}"),
    ("GET", "/orgs/{org}/members"),
    ("GET", "/orgs/{org}/repos"),
    ("GET", "/repos/{owner}/{repo}"),
    ("DELETE", "/repos/{owner}/{repo}"),
    *[("GET", f"/repos/{{owner}}/{{repo}}/{sub}") for sub in SUB_RESOURCES],
    ("POST", "/repos/{owner}/{repo}/issues"),
    ("GET", "/repos/{owner}/{repo}/issues/{number}"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{number}"),
    ("GET", "/repos/{owner}/{repo}/issues/{number}/comments"),
    ("GET", "/repos/{owner}/{repo}/pulls/{number}"),
    ("GET", "/repos/{owner}/{repo}/commits/{sha}"),
    ("GET", "/blog/{slug}"),
    ("GET", "/blog/{slug}/comments"),
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("GET", "/orders/search"),
    ("GET", "/orders/recent"),
    ("GET", "/orders/{id}"),
    ("DELETE", "/orders/{id}"),
    ("GET", "/orders/{id}/items"),
    ("GET", "/orders/{id}/items/{number}"),
    ("GET", "/api/v1/sessions/{uuid}"),
    ("DELETE", "/api/v1/sessions/{uuid}"),
    ("GET", "/api/v1/reports/{date}"),
    ("GET", "/api/v2/reports/{date}/summary"),
    ("GET", "/static/app.js"),
    ("GET", "/static/app.css"),
]


def weights(n: int) -> list[float]:
    """Zipf-like popularity (s = 0.8), in a fixed shuffled order so popularity is not list order."""
    order = list(range(n))
    random.Random(42).shuffle(order)
    return [1.0 / (1 + order[i]) ** 0.8 for i in range(n)]


def fill(template: str, rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: VALUES[m.group(1)](rng), template)


def sample(seed: int, n: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    chosen = rng.choices(TEMPLATES, weights=weights(len(TEMPLATES)), k=n)
    return [(method, fill(template, rng), template) for method, template in chosen]


def shape(template: str) -> str:
    """A template with its parameter names dropped: `/users/{user}` → `/users/{}`."""
    return re.sub(r"\{[^}]*\}", "{}", template)


def same_template(route_template: str, truth: str) -> bool:
    return shape(route_template) == shape(truth)
