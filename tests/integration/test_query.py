"""Query conditions (native `query`) against Envoy's own `query_parameters` route matching.

The same ordered table is Envoy's route configuration (each route named, `%ROUTE_NAME%` in the
access log) and routegen's native configuration; every request must get the same name from
both: first value of a repeated parameter, names and values compared as sent (Envoy 1.36 and
1.40 decode neither `%XX` nor `+`), a parameter without `=`, empty and odd queries. Envoy is
the reference here, not routegen's tests.
"""

from __future__ import annotations

import pytest

from routegen_support.envoy import direct_response

# (name, routegen query condition, Envoy query_parameters entry); every route is prefix /q.
CONDITIONS = [
    ("v2", {"name": "v", "exact": "2"}, {"name": "v", "string_match": {"exact": "2"}}),
    ("id-digits", {"name": "id", "regex": "[0-9]+"}, {"name": "id", "string_match": {"safe_regex": {"regex": "[0-9]+"}}}),
    ("debug-present", {"name": "debug", "present": True}, {"name": "debug", "present_match": True}),
    ("slash", {"name": "k", "exact": "a/b"}, {"name": "k", "string_match": {"exact": "a/b"}}),
    ("space", {"name": "s", "exact": "x y"}, {"name": "s", "string_match": {"exact": "x y"}}),
    ("plus", {"name": "p", "exact": "x+y"}, {"name": "p", "string_match": {"exact": "x+y"}}),
    ("encoded name", {"name": "a%20b", "exact": "1"}, {"name": "a%20b", "string_match": {"exact": "1"}}),
    ("empty", {"name": "e", "exact": ""}, {"name": "e", "string_match": {"exact": ""}}),
]
BOTH = ("both", [{"name": "a", "exact": "1"}, {"name": "b", "exact": "2"}],
        [{"name": "a", "string_match": {"exact": "1"}}, {"name": "b", "string_match": {"exact": "2"}}])

REQUESTS = [
    "/q?v=2", "/q?v=20", "/q?v=2&v=3", "/q?v=3&v=2", "/q?V=2", "/q?v=%32", "/q?%76=2", "/q?x=1&v=2",
    "/q?&&v=2", "/q?v=2&", "/q?v==2", "/q?v",
    "/q?id=12", "/q?id=1a", "/q?id=", "/q?id=%31%32",
    "/q?debug", "/q?debug=", "/q?debug=0", "/q?debugx=1",
    "/q?k=a%2Fb", "/q?k=a/b", "/q?k=a%2fb",
    "/q?s=x+y", "/q?s=x%20y", "/q?s=x y".replace(" ", "%20"),
    "/q?p=x+y", "/q?p=x%2By",
    "/q?a+b=1", "/q?a%20b=1", "/q?a%20B=1",
    "/q?e", "/q?e=", "/q?e=%",
    "/q?a=1&b=2", "/q?b=2&a=1", "/q?a=1", "/q?a=1&b=3",
    "/q", "/q?", "/q?=", "/q?%zz=1&v=2", "/q?v=%zz",
]


def tables():
    native, envoy = [], []
    for name, ours, theirs in CONDITIONS + [(BOTH[0], None, None)]:
        ours_list = BOTH[1] if name == "both" else [ours]
        theirs_list = BOTH[2] if name == "both" else [theirs]
        native.append({"name": name, "path_prefix": "/q", "query": ours_list})
        envoy.append({"name": name, "match": {"prefix": "/q", "query_parameters": theirs_list},
                      "direct_response": direct_response()})
    native.append({"name": "rest", "path_prefix": "/"})
    envoy.append({"name": "rest", "match": {"prefix": "/"}, "direct_response": direct_response()})
    return native, envoy


@pytest.fixture(scope="module")
def envoy(start_envoy):
    native, routes = tables()
    return start_envoy({"routes": native}, routes=routes, log_fields={"route": "%ROUTE_NAME%"})


def test_every_request_gets_envoys_route_name(envoy):
    responses = envoy.requests([("GET", path) for path in REQUESTS])
    disagree = [(path, r.log["route"], r.attr()) for path, r in zip(REQUESTS, responses) if r.log["route"] != r.attr()]
    assert not disagree, "path, Envoy's route, routegen's name:\n" + "\n".join(map(repr, disagree))
    # The table is exercised: most conditions take some request.
    names = {r.attr() for r in responses}
    assert len(names) >= 8, names
