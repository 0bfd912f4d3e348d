"""`routegen import`: real specs in, native configs out that pass `routegen check` cleanly and
attribute each operation's own requests to it (verified with the filter's matcher)."""

from __future__ import annotations

import json
import re

import pytest

from conftest import FIXTURES


def imported(run, tmp_path, *args, expect_rc=0):
    proc = run("import", *args)
    assert proc.returncode == expect_rc, proc.stderr
    out = tmp_path / "imported.json"
    out.write_text(proc.stdout)
    return json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else proc.stdout, proc.stderr, out


def check_clean(run, path):
    proc = run("check", "--strict", path)
    assert proc.returncode == 0 and "0 warnings" in proc.stdout, proc.stdout + proc.stderr


def names(config):
    return [r if isinstance(r, str) else r["name"] for r in config["routes"]]


def test_github_rest_api(run, tmp_path, github_api):
    """1,223 real operations: each one's sample request lands on it, with the specific-first order."""
    config, err, out = imported(run, tmp_path, "openapi", github_api)
    assert len(config["routes"]) == 1223
    assert "verified: 1223/1223 sample requests" in err, err
    assert "imported 1223 operations from 811 paths (OpenAPI 3; 1 moved" in err, err
    assert "warning" not in err
    check_clean(run, out)
    order = names(config)
    assert order.index("GET /repos/{owner}/{repo}/compare/{base}...{head}") < order.index("GET /repos/{owner}/{repo}/compare/{basehead}")
    # In the spec's own order that operation is unreachable: the check and the verification say so.
    _, err, out = imported(run, tmp_path, "openapi", github_api, "--keep-order")
    assert "verified: 1222/1223 sample requests" in err, err
    assert re.search(r"can never match: routes\[\d+\] 'GET /repos/\{owner\}/\{repo\}/compare/\{basehead\}'", err), err
    by_id, err, out = imported(run, tmp_path, "openapi", github_api, "--name", "operation-id")
    assert "verified: 1223/1223" in err
    assert len(set(names(by_id))) == 1223, "operationIds are unique in GitHub's spec"
    check_clean(run, out)


def test_swagger2_base_path_order_and_failure_classes(run, tmp_path):
    config, err, out = imported(run, tmp_path, "openapi", FIXTURES / "bookstore-swagger2.yaml", "--name", "operation-id")
    assert "Swagger 2.0" in err and "verified: 8/8" in err
    routes = {r["name"]: r for r in config["routes"]}
    assert names(config)[:2] == ["newBookForm", "getBook"], "the literal path first"
    assert routes["getBook"]["path"] == "/api/v1/books/{id}"
    assert "failure_classes" not in routes["getBook"], "declared 500 is already a failure"
    assert "failure_classes" not in routes["createBook"], "declared 5XX likewise"
    assert routes["updateBook"]["failure_classes"] == ["429", "5xx"]
    assert routes["health"]["failure_classes"] == ["500-502", "504-599"]
    check_clean(run, out)
    config, _, _ = imported(run, tmp_path, "openapi", FIXTURES / "bookstore-swagger2.yaml", "--no-base-path")
    assert names(config)[0] == "GET /books/new"
    config, _, _ = imported(run, tmp_path, "openapi", FIXTURES / "bookstore-swagger2.yaml", "--base-path", "/v9/", "-o", "yaml")
    assert "- GET /v9/books/new\n" in config


def test_openapi3_servers_refs_and_odd_names(run, tmp_path):
    config, err, out = imported(run, tmp_path, "openapi", FIXTURES / "petstore-openapi3.json")
    assert "verified: 6/6" in err
    assert names(config) == ["GET /v2/pets", "POST /v2/pets", "GET /v2/pets/mine", "GET /v2/pets/{petId}",
                             "DELETE /v2/pets/{petId}", "GET /stores-api/stores/{store.id}/pets"]
    assert config["routes"][1]["failure_classes"] == ["429", "5xx"], "x-routegen-failure through a $ref"
    assert config["routes"][5]["path"] == "/stores-api/stores/{store_id}/pets", "path-item servers, variable renamed"
    check_clean(run, out)
    _, err, _ = imported(run, tmp_path, "openapi", FIXTURES / "petstore-openapi3.json", "--name", "operation-id")
    assert "no operationId; named 'GET /stores-api/stores/{store.id}/pets'" in err


def test_not_openapi(run, tmp_path):
    proc = run("import", "openapi", FIXTURES / "booksapp-webapp-profile.yaml")
    assert proc.returncode == 1 and "not an OpenAPI" in proc.stderr


def test_linkerd_books_app(run, tmp_path):
    config, err, out = imported(run, tmp_path, "linkerd", FIXTURES / "booksapp-webapp-profile.yaml")
    assert len(config["routes"]) == 9 and "0 skipped" in err and "warning" not in err
    check_clean(run, out)
    for method, path, want in [("GET", "/books/12", "GET /books/{id}"), ("POST", "/authors/7/edit", "POST /authors/{id}/edit"),
                               ("GET", "/", "GET /"), ("GET", "/books/12/x", "[DEFAULT]")]:
        proc = run("explain", out, method, path, "-o", "json")
        assert json.loads(proc.stdout)["result"]["route"] == want, (method, path)


def test_linkerd_surprises_are_reported(run, tmp_path):
    config, err, out = imported(run, tmp_path, "linkerd", FIXTURES / "booksapp-books-profile.yaml", "--scope-by-host")
    assert "imported 6 of 8" in err
    assert "has a top-level '|': Linkerd anchors it as '^/healthz|/readyz$'" in err
    assert "'broken': pathRegex '/broken(' is invalid" in err and "matched every request of its method; skipped" in err
    assert "'not pathRegex /admin.*' cannot be expressed" in err
    assert "isRetryable ignored" in err and "timeout ignored" in err
    service = config["services"][0]
    assert service["hosts"] == ["books.booksapp.svc.cluster.local", "books.booksapp.svc", "books.booksapp", "books"]
    routes = {r["name"]: r for r in service["routes"]}
    assert routes["GET /books.json"]["method"] == ["GET", "HEAD"]
    assert routes["POST /books.json"]["failure_classes"] == ["429", "500-502", "504-599"]
    assert proc_ok(run("check", out))
    # Linkerd's reading of /healthz|/readyz, reproduced: a prefix OR a suffix.
    for path, want in [("/healthz/deep", "health"), ("/x/readyz", "health"), ("/readyz/x", "[DEFAULT]")]:
        proc = run("explain", out, "GET", path, "--host", "books:7002", "-o", "json")
        assert json.loads(proc.stdout)["result"]["route"] == want, path


def proc_ok(proc):
    return proc.returncode == 0


def test_proto(run, tmp_path):
    config, err, out = imported(run, tmp_path, "proto", FIXTURES / "books.proto")
    assert names(config) == ["acme.library.v1.BookService/GetBook", "acme.library.v1.BookService/ListBooks",
                             "acme.library.v1.BookService/ImportBooks", "acme.library.v1.BookService/Chat",
                             "acme.library.v1.ShelfService/GetShelf"]
    assert config["routes"][0] == {"name": "acme.library.v1.BookService/GetBook", "method": "POST",
                                   "path_exact": "/acme.library.v1.BookService/GetBook"}
    assert "verified: 5/5" in err and "(3 streaming)" in err
    check_clean(run, out)


def test_attributegen_conversion(run, tmp_path):
    config, err, out = imported(run, tmp_path, "attributegen", FIXTURES / "attributegen-operations.json")
    assert "6 sample requests agree" in err or "sample requests agree" in err
    assert config["output_attribute"] == "istio_operationId" and "default" not in config
    assert config["normalize"]["merge_slashes"] is False, "attributegen sees url_path as sent"
    check_clean(run, out)
    # Both engines agree on requests the conditions distinguish.
    for method, path, want in [("GET", "/books", "ListBooks"), ("GET", "/books/new", "NewBook"), ("GET", "/books/7", "GetBook"),
                               ("DELETE", "/shelves/a1/books/b2", "GetShelfBook"), ("HEAD", "/status/x", "Status"),
                               ("PUT", "/anything", "Write"), ("GET", "/books//7", None)]:
        native = json.loads(run("explain", out, method, path, "-o", "json").stdout)["result"]["route"]
        ag = json.loads(run("explain", FIXTURES / "attributegen-operations.json", method, path, "-o", "json").stdout)
        ag_value = ag["attributes"][0]["result"]
        assert native == want, (method, path)
        assert ag_value == (f"'{want}'" if want else 'no match: nothing is written (Istio shows route_name="unknown")')


def test_attributegen_inexpressible(run):
    proc = run("import", "attributegen", FIXTURES / "attributegen-response-codes.json")
    assert proc.returncode == 1 and "choose with --attribute" in proc.stderr
    proc = run("import", "attributegen", FIXTURES / "attributegen-response-codes.json", "--attribute", "istio_operationId")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "cannot convert: attributes[1].match[3] 'Beta'" in proc.stderr
    assert "cannot convert: attributes[1].match[4] 'Slow'" in proc.stderr
    assert "cannot convert: attributes[1].match[5] 'Errors': reads the response" in proc.stderr
    assert "3 of 6 conditions cannot be expressed" in proc.stderr
