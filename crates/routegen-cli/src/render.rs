//! `routegen render`: the manifests and config snippets that put a checked configuration to
//! work — Istio (WasmPlugin, Telemetry, optionally the waypoint Gateway), or plain Envoy (the
//! `http_filters` entry and the `stats_config` for routegen's own metrics).
//!
//! The output mirrors what `istio/` and `examples/envoy/` ship, so the documentation and the
//! generator cannot drift apart silently (the tests validate both against the CRD schemas and
//! a real Envoy).

use crate::common::{self, DocFormat, Exit, Format, Result};
use crate::EXIT_OK;
use routegen_core::engine::Mode;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Envoy's `stats_config` for routegen's metrics, as shipped (single source of truth).
const STATS_CONFIG: &str = include_str!("../../../examples/envoy/stats-config.yaml");

#[derive(clap::Subcommand)]
pub enum Command {
    Istio(IstioArgs),
    Envoy(EnvoyArgs),
}

pub fn run(command: Command) -> Result<u8> {
    match command {
        Command::Istio(args) => istio(args),
        Command::Envoy(args) => envoy(args),
    }
}

/// Istio manifests: WasmPlugin + Telemetry (+ the waypoint Gateway with --gateway).
///
/// The WasmPlugin targets the waypoint Gateway (ambient mode) or, with --sidecar, selects pods
/// by label (sidecar mode, inbound traffic only). It runs in phase AUTHN, before Istio's stats
/// filter, with failStrategy FAIL_OPEN. The Telemetry adds the `route_name` label to
/// REQUEST_COUNT, REQUEST_DURATION, REQUEST_SIZE and RESPONSE_SIZE from
/// `filter_state['wasm.<output_attribute>']`, the configured attribute.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen render istio routes.json --namespace books --waypoint waypoint --image ghcr.io/acme/routegen:0.1.0 | kubectl apply -f -\n  routegen render istio routes.json --namespace books --waypoint waypoint --gateway --image ghcr.io/acme/routegen:0.1.0 --sha256 0123…\n  routegen render istio routes.json --namespace podinfo --sidecar app=podinfo --image ghcr.io/acme/routegen:0.1.0\n\n\
Exit status: 0 rendered, 1 invalid configuration, 2 bad arguments or unreadable file."
)]
pub struct IstioArgs {
    /// The routegen configuration (native, attributegen, or a WasmPlugin to re-render).
    config: PathBuf,
    /// Name of the WasmPlugin (the Telemetry is NAME-route-name).
    #[arg(long, default_value = "routegen")]
    name: String,
    /// Namespace of every resource.
    #[arg(long)]
    namespace: String,
    /// The waypoint Gateway to attach to (ambient mode).
    #[arg(long, required_unless_present = "sidecar", conflicts_with = "sidecar")]
    waypoint: Option<String>,
    /// Sidecar mode instead: pod labels as k=v[,k=v…] for the selector.
    #[arg(long, value_name = "SELECTOR")]
    sidecar: Option<String>,
    /// The OCI image (or oci://, https://, file:// URL) holding the module.
    #[arg(long)]
    image: String,
    /// The image's manifest digest (64 hex digits, as `make oci` prints it).
    #[arg(long)]
    sha256: Option<String>,
    /// Also emit the waypoint Gateway itself.
    #[arg(long, requires = "waypoint")]
    gateway: bool,
    /// What Istio does when the module cannot be loaded or fails.
    #[arg(long = "fail-strategy", default_value = "FAIL_OPEN", value_parser = ["FAIL_OPEN", "FAIL_CLOSE", "FAIL_RELOAD"])]
    fail_strategy: String,
    /// Output format (json: a kind List).
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    output: DocFormat,
}

/// The attribute the filter writes (Telemetry reads `filter_state['wasm.<it>']`).
fn output_attribute(mode: &Mode) -> String {
    match mode {
        Mode::Native(plan) => plan.output_attribute.clone(),
        Mode::Attributegen(attributes) => {
            attributes.first().map(|a| a.output_attribute.clone()).unwrap_or_else(|| "istio_operationId".to_string())
        }
    }
}

fn istio(args: IstioArgs) -> Result<u8> {
    let loaded = common::load(&args.config)?;
    let attribute = output_attribute(&loaded.engine.mode);
    let url = if args.image.contains("://") { args.image.clone() } else { format!("oci://{}", args.image) };
    let sha256 = match &args.sha256 {
        Some(digest) => {
            let digest = digest.strip_prefix("sha256:").unwrap_or(digest);
            if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Exit::usage(format!("--sha256 '{digest}': expected 64 hex digits")));
            }
            Some(digest.to_ascii_lowercase())
        }
        None => None,
    };
    let target = match (&args.waypoint, &args.sidecar) {
        (Some(waypoint), _) => {
            json!({"targetRefs": [{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": waypoint}]})
        }
        (None, Some(selector)) => json!({"selector": {"matchLabels": labels(selector)?}}),
        (None, None) => return Err(Exit::usage("give --waypoint GATEWAY or --sidecar SELECTOR")),
    };
    let sidecar = args.sidecar.is_some();
    let mut documents: Vec<(String, Value)> = Vec::new();
    if let (true, Some(waypoint)) = (args.gateway, &args.waypoint) {
        documents.push((
            format!("The waypoint of namespace {}; enrol services with the label istio.io/use-waypoint: {waypoint}.", args.namespace),
            json!({
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": waypoint, "namespace": args.namespace, "labels": {"istio.io/waypoint-for": "service"}},
                "spec": {"gatewayClassName": "istio-waypoint", "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]},
            }),
        ));
    }
    let mut spec = serde_json::Map::new();
    spec.extend(target.as_object().cloned().unwrap_or_default());
    if sidecar {
        spec.insert("match".into(), json!([{"mode": "SERVER"}]));
    }
    spec.insert("url".into(), json!(url));
    if let Some(digest) = sha256 {
        spec.insert("sha256".into(), json!(digest));
    }
    spec.insert("imagePullPolicy".into(), json!("IfNotPresent"));
    spec.insert("phase".into(), json!("AUTHN"));
    spec.insert("failStrategy".into(), json!(args.fail_strategy));
    spec.insert("pluginConfig".into(), loaded.document.clone());
    documents.push((
        format!(
            "routegen names each request (filter_state['wasm.{attribute}']); phase AUTHN runs it before Istio's stats filter.{}",
            if sidecar { " SERVER: inbound traffic only." } else { "" }
        ),
        json!({"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin", "metadata": {"name": args.name, "namespace": args.namespace}, "spec": Value::Object(spec)}),
    ));
    let tag = json!({"route_name": {"value": format!("filter_state['wasm.{attribute}']")}});
    let overrides: Vec<Value> = ["REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE"]
        .iter()
        .map(|metric| {
            let mut matcher = json!({"metric": metric});
            if sidecar {
                matcher["mode"] = json!("SERVER");
            }
            json!({"match": matcher, "tagOverrides": tag})
        })
        .collect();
    let mut telemetry_spec = serde_json::Map::new();
    telemetry_spec.extend(target.as_object().cloned().unwrap_or_default());
    telemetry_spec.insert("metrics".into(), json!([{"providers": [{"name": "prometheus"}], "overrides": overrides}]));
    documents.push((
        "route_name on Istio's request metrics. Keep the full filter_state[...] expression: a bare attribute name gives route_name=\"unknown\" since Istio 1.24.".to_string(),
        json!({"apiVersion": "telemetry.istio.io/v1", "kind": "Telemetry", "metadata": {"name": format!("{}-route-name", args.name), "namespace": args.namespace}, "spec": Value::Object(telemetry_spec)}),
    ));
    match args.output {
        DocFormat::Json => {
            let list = json!({"apiVersion": "v1", "kind": "List", "items": documents.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>()});
            print!("{}", common::to_text(&list, Format::Json)?);
        }
        _ => {
            let mut out = format!("# Generated by `routegen render istio` from {}.\n", args.config.display());
            for (i, (comment, document)) in documents.iter().enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                out.push_str(&format!("# {comment}\n"));
                out.push_str(&common::to_text(document, Format::Yaml)?);
            }
            print!("{out}");
        }
    }
    Ok(EXIT_OK)
}

/// `app=podinfo,tier=web` → `{"app": "podinfo", "tier": "web"}`.
fn labels(selector: &str) -> Result<Value> {
    let mut map = serde_json::Map::new();
    for pair in selector.split(',').filter(|p| !p.trim().is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| Exit::usage(format!("--sidecar '{selector}': expected key=value[,key=value…]")))?;
        map.insert(key.trim().to_string(), json!(value.trim()));
    }
    if map.is_empty() {
        return Err(Exit::usage("--sidecar: give at least one key=value label"));
    }
    Ok(Value::Object(map))
}

/// Plain Envoy: the `http_filters` entry with the configuration embedded, and `stats_config`.
///
/// Put the `http_filters` entry first in your HttpConnectionManager's filters (before the
/// router), and `stats_config` at the top level of the bootstrap: it turns routegen's metric
/// names into Prometheus labels (route, classification, status_code) and sets Linkerd's
/// latency buckets.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen render envoy routes.json\n  routegen render envoy routes.json --wasm /opt/routegen/routegen.wasm -o json\n\n\
Exit status: 0 rendered, 1 invalid configuration, 2 unreadable file."
)]
pub struct EnvoyArgs {
    /// The routegen configuration.
    config: PathBuf,
    /// Where Envoy reads the module from.
    #[arg(long, default_value = "/etc/envoy/routegen.wasm")]
    wasm: String,
    /// What Envoy does when the VM fails.
    #[arg(long = "failure-policy", default_value = "FAIL_OPEN", value_parser = ["FAIL_OPEN", "FAIL_CLOSED", "FAIL_RELOAD"])]
    failure_policy: String,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    output: DocFormat,
}

fn envoy(args: EnvoyArgs) -> Result<u8> {
    let loaded = common::load(&args.config)?;
    let configuration = serde_json::to_string(&loaded.document).map_err(|e| Exit::usage(e.to_string()))?;
    let filter = json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "routegen",
                "root_id": "",
                "failure_policy": args.failure_policy,
                "vm_config": {"vm_id": "routegen", "runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": args.wasm}}},
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": configuration},
            }
        }
    });
    let metrics = matches!(&loaded.engine.mode, Mode::Native(plan) if plan.metrics.enabled);
    match args.output {
        DocFormat::Json => {
            let stats: Value = serde_norway::from_str(STATS_CONFIG)
                .map_err(|e| Exit::usage(format!("internal error: stats-config.yaml: {e}")))?;
            let mut out = json!({"http_filters": [filter]});
            if let Some(stats_config) = stats.get("stats_config") {
                out["stats_config"] = stats_config.clone();
            }
            print!("{}", common::to_text(&out, Format::Json)?);
        }
        _ => {
            let mut out = format!("# Generated by `routegen render envoy` from {}.\n", args.config.display());
            out.push_str("# 1. In your HttpConnectionManager, make this the first entry of http_filters (before\n#    envoy.filters.http.router), so every later filter and the access log see the route name.\n");
            out.push_str(&common::to_text(&json!({"http_filters": [filter]}), Format::Yaml)?);
            out.push_str(if metrics {
                "# 2. At the top level of the bootstrap: routegen's metrics (metrics.enabled) as Prometheus labels.\n"
            } else {
                "# 2. At the top level of the bootstrap, once you turn metrics on (\"metrics\": {\"enabled\": true}):\n"
            });
            out.push_str(STATS_CONFIG);
            print!("{out}");
        }
    }
    Ok(EXIT_OK)
}
