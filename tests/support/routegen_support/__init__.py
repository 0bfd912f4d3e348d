"""routegen's one Python test-support package, used by tests/ and tools/.

Installed into the project venv (`-e ./tests/support` in tests/requirements.txt); modules:

- `ports`     HOST (127.0.0.1), free_port / free_ports
- `process`   die_with_parent (PR_SET_PDEATHSIG), stop_process, pinned (taskset), Process
- `waiting`   wait_for
- `http`      http_exchange (raw HTTP/1.1 over a socket), http_get, fetch, keepalive_requests
- `h2`        a hand-made HTTP/2 prior-knowledge client (odd pseudo-headers included)
- `prom`      Prometheus text-format parser, Prometheus server and HTTP API queries
- `wrk`       wrk Lua script writer and runner
- `envoy`     bootstrap building blocks, Envoy version, admin /stats parser, EnvoyProcess
- `harness`   the routegen test Envoy (direct responses, JSON access log, raw requests),
              with extra HCM options (hcm=) or its listener through LDS (LdsEnvoy)
- `ecds`      the harness Envoy with routegen's filter config from ECDS (a file source), as
              istiod delivers it; byte-different module variants
- `attack`    a label-cardinality attack on auto names (wrk, random requests) and its counts
- `memory`    Envoy RSS and the wasm VMs' linear memory from /proc, a sampler, an SVG plot
- `load`      client threads sending without pause (fresh and keep-alive connections)
- `demo`      `make demo`'s traffic, podinfo stand-in, Stack and per-route table
- `tools`     tools/<name>.py loaded as modules (from routegen_support.tools import x)
- `paths`     the repository root
- `synthetic_api` a ~50-template REST API and deterministic traffic samples (learn tests)
- `fixtures`  small pytest helpers (environment paths, a private copy of the module)

Standard library only, except `demo` and LdsEnvoy's `policy` (PyYAML).
"""
