"""Builds tests/classify_data/published_alerts.jsonl from published alert rules.

Each record below is one alert rule, monitor or alert type as its owner published it (the
source is named on every record): the alert name, the rule's labels and the annotations,
rendered the way Alertmanager (or PagerDuty / a native webhook) would deliver them with one
example value filled into each template. The labels (type, severity, systems) follow the
policy of the shared evaluation set (its README, not in this repository); the reading of
borderline cases is in tests/classify_data/README.md. The split ("dev" or "heldout") is fixed
per source; the second held-out group goes to its own file (split "heldout2").

Run: .venv/bin/python bench/classify/build_published_alerts.py
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[2] / "tests" / "classify_data" / "published_alerts.jsonl"
# The second held-out group (publishers not in the first file), scored on its own.
OUT2 = OUT.with_name("published_alerts_heldout2.jsonl")

LLMD = "llm-d/llm-d:docs/monitoring/prometheus-alerting-rules.yaml"
KUBERAY = "ray-project/kuberay:config/prometheus/rules/prometheusRules.yaml"
APA_LITELLM = "samber/awesome-prometheus-alerts:dist/rules/litellm/embedded-exporter.yml"
APA_PROM = (
    "samber/awesome-prometheus-alerts:dist/rules/prometheus-self-monitoring/embedded-exporter.yml"
)
APA_KUBE = "samber/awesome-prometheus-alerts:dist/rules/kubernetes/kubestate-exporter.yml"
APA_BB = "samber/awesome-prometheus-alerts:dist/rules/blackbox/blackbox-exporter.yml"
AUTOPILOT = "IBM/autopilot:alertmanager/alerts/healthchecks-alerts.yaml"
DD = "DataDog/integrations-core:{}/assets/monitors/{}"
LITELLM = "BerriAI/litellm:litellm/integrations/SlackAlerting/slack_alerting.py"
DEFENDER = "MicrosoftDocs/azure-docs:articles/defender-for-cloud/alerts-ai-workloads.md"
BEDROCK = (
    "https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-guardrails-cw-metrics.html"
)
SAGEMAKER = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-interpreting-violations.html"
)
DDLLMOBS = "https://docs.datadoghq.com/llm_observability/evaluations/managed_evaluations/"

# Sources scored only before and after the work, never looked at while changing rules.
HELDOUT = {
    "datadog-integrations",
    "aws-bedrock-guardrails",
    "aws-sagemaker-model-monitor",
    "datadog-llm-observability",
    "ibm-autopilot",
}

records: list[dict[str, Any]] = []


def expect(type_: str | None, sev: str | None, systems: list[str] | None = None) -> dict[str, Any]:
    return {"type": type_, "severity": sev, "systems": systems or []}


def am(
    group: str,
    source: str,
    name: str,
    labels: dict[str, str],
    ann: dict[str, str],
    expr: str,
    exp: dict[str, Any],
) -> None:
    """One firing alert in an Alertmanager webhook v4 payload."""
    all_labels = {"alertname": name, **labels}
    url = "http://prometheus:9090/graph?g0.expr=" + urllib.parse.quote(expr) + "&g0.tab=1"
    alert = {
        "status": "firing",
        "labels": all_labels,
        "annotations": ann,
        "startsAt": "2026-11-30T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": url,
        "fingerprint": hashlib.sha256(name.encode()).hexdigest()[:16],
    }
    payload = {
        "receiver": "defib",
        "status": "firing",
        "alerts": [alert],
        "groupLabels": {"alertname": name},
        "commonLabels": all_labels,
        "commonAnnotations": ann,
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="' + name + '"}',
        "truncatedAlerts": 0,
    }
    records.append(
        {"group": group, "source": source, "name": name, "payload": payload, "expected": [exp]}
    )


def pd(
    group: str,
    source: str,
    name: str,
    summary: str,
    src: str,
    severity: str,
    details: dict[str, Any],
    exp: dict[str, Any],
    component: str | None = None,
) -> None:
    """One PagerDuty Events API v2 trigger (how Datadog / CloudWatch-via-SNS deliver)."""
    body: dict[str, Any] = {
        "summary": summary,
        "source": src,
        "severity": severity,
        "timestamp": "2026-11-30T10:00:00Z",
        "custom_details": details,
    }
    if component:
        body["component"] = component
    payload = {
        "routing_key": "0" * 32,
        "event_action": "trigger",
        "dedup_key": name.lower().replace(" ", "-"),
        "payload": body,
    }
    records.append(
        {"group": group, "source": source, "name": name, "payload": payload, "expected": [exp]}
    )


def native(
    group: str,
    source: str,
    name: str,
    title: str,
    description: str,
    severity: str,
    systems: list[str],
    exp: dict[str, Any],
    labels: dict[str, str] | None = None,
) -> None:
    payload = {
        "source": group,
        "title": title,
        "description": description,
        "severity": severity,
        "systems": systems,
        "labels": labels or {},
        "status": "firing",
    }
    records.append(
        {"group": group, "source": source, "name": name, "payload": payload, "expected": [exp]}
    )


# ---------------------------------------------------------------- llm-d (vLLM serving rules)
G = "llm-d"
T = {"team": "inference-platform"}
RB = "https://github.com/llm-d/llm-d/blob/main/docs/monitoring/alerting-runbook.md#"
am(
    G,
    LLMD,
    "LLMDHighErrorRate",
    {"severity": "critical", **T},
    {
        "summary": "High inference error rate detected",
        "description": "Platform-wide error rate is 7.3%, exceeding 5% threshold.\nThis indicates "
        "widespread service degradation affecting user requests.\n",
        "runbook_url": RB + "llmdhigherrorrate",
    },
    "(sum(rate(inference_model_request_error_total[5m])) / sum(rate(inference_model_request_total[5m]))) > 0.05",
    expect("availability", "SEV1"),
)
am(
    G,
    LLMD,
    "LLMDModelHighErrorRate",
    {"severity": "critical", "model_name": "meta-llama/Llama-3.1-8B-Instruct", **T},
    {
        "summary": "High error rate for model meta-llama/Llama-3.1-8B-Instruct",
        "description": "Model meta-llama/Llama-3.1-8B-Instruct has error rate of 12.4%.\nInvestigate "
        "model-specific issues or backend pod health.\n",
        "runbook_url": RB + "llmdmodelhigherrorrate",
    },
    "(sum by(model_name) (rate(inference_model_request_error_total[5m])) / sum by(model_name) (rate(inference_model_request_total[5m]))) > 0.10",
    expect("availability", "SEV1"),
)
am(
    G,
    LLMD,
    "LLMDSchedulerDown",
    {"severity": "critical", **T},
    {
        "summary": "Inference scheduler (EPP) is down",
        "description": "The Endpoint Picker (EPP) scheduler has been unavailable for >2 minutes.\nAll "
        "inference requests will fail without a functioning scheduler.\n",
        "runbook_url": RB + "llmdschedulerdown",
    },
    'avg_over_time(up{job=~".*epp.*"}[5m]) < 0.5',
    expect("availability", "SEV1"),
)
am(
    G,
    LLMD,
    "LLMDNoHealthyBackends",
    {"severity": "critical", **T},
    {
        "summary": "No healthy vLLM backends available",
        "description": "All vLLM backend pods are down. Inference requests cannot be served.\nImmediate "
        "investigation required.\n",
        "runbook_url": RB + "llmdnohealthybackends",
    },
    'sum(up{job=~".*vllm.*"}) == 0',
    expect("availability", "SEV1"),
)
am(
    G,
    LLMD,
    "LLMDExtremeTTFT",
    {"severity": "critical", "model_name": "meta-llama/Llama-3.1-8B-Instruct", **T},
    {
        "summary": "Extreme time-to-first-token latency for meta-llama/Llama-3.1-8B-Instruct",
        "description": "P99 TTFT is 41.2s for model meta-llama/Llama-3.1-8B-Instruct.\nUsers are "
        "experiencing unacceptable wait times before receiving responses.\n",
        "runbook_url": RB + "llmdextremettft",
    },
    "histogram_quantile(0.99, sum by(le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m]))) > 30",
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDElevatedErrorRate",
    {"severity": "warning", **T},
    {
        "summary": "Elevated inference error rate",
        "description": "Platform error rate is 1.8%, above 1% threshold.\nInvestigate before this "
        "escalates to critical levels.\n",
        "runbook_url": RB + "llmdelevatederrorrate",
    },
    "(sum(rate(inference_model_request_error_total[5m])) / sum(rate(inference_model_request_total[5m]))) > 0.01",
    expect("availability", "SEV2"),
)
am(
    G,
    LLMD,
    "LLMDHighLatencyP99",
    {"severity": "warning", **T},
    {
        "summary": "High P99 request latency",
        "description": "P99 request latency is 14.6s, exceeding 10s threshold.\nThis may indicate "
        "backend saturation or inefficient routing.\n",
        "runbook_url": RB + "llmdhighlatencyp99",
    },
    "histogram_quantile(0.99, sum by(le) (rate(inference_model_request_duration_seconds_bucket[5m]))) > 10",
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDHighTTFT",
    {"severity": "warning", "model_name": "meta-llama/Llama-3.1-8B-Instruct", **T},
    {
        "summary": "High time-to-first-token for meta-llama/Llama-3.1-8B-Instruct",
        "description": "P99 TTFT is 12.8s for model meta-llama/Llama-3.1-8B-Instruct.\nConsider scaling "
        "prefill workers or enabling prefix caching.\n",
        "runbook_url": RB + "llmdhighttft",
    },
    "histogram_quantile(0.99, sum by(le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m]))) > 10",
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDHighPreemptions",
    {"severity": "warning", "pod": "vllm-decode-7d9f8c6b5-x2kqp", **T},
    {
        "summary": "High request preemptions on vllm-decode-7d9f8c6b5-x2kqp",
        "description": "Pod vllm-decode-7d9f8c6b5-x2kqp has 2.4 preemptions/sec.\nThis indicates memory "
        "pressure and may cause request failures.\n",
        "runbook_url": RB + "llmdhighpreemptions",
    },
    "sum by(pod) (rate(vllm:num_preemptions[5m])) > 1",
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDKVCacheSaturation",
    {
        "severity": "warning",
        "pod": "vllm-decode-7d9f8c6b5-x2kqp",
        "model_name": "meta-llama/Llama-3.1-8B-Instruct",
        **T,
    },
    {
        "summary": "KV cache near saturation on vllm-decode-7d9f8c6b5-x2kqp",
        "description": "KV cache utilization is 93.5% on pod vllm-decode-7d9f8c6b5-x2kqp.\nHigh "
        "utilization leads to preemptions and degraded throughput.\n",
        "runbook_url": RB + "llmdkvcachesaturation",
    },
    "avg by(pod, model_name) (vllm:kv_cache_usage_perc) > 0.90",
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDRequestQueueBuildup",
    {
        "severity": "warning",
        "pod": "vllm-decode-7d9f8c6b5-x2kqp",
        "model_name": "meta-llama/Llama-3.1-8B-Instruct",
        **T,
    },
    {
        "summary": "Request queue building up on vllm-decode-7d9f8c6b5-x2kqp",
        "description": "63 requests waiting in queue on pod vllm-decode-7d9f8c6b5-x2kqp.\nConsider "
        "scaling decode replicas or optimizing batch size.\n",
        "runbook_url": RB + "llmdrequestqueuebuildup",
    },
    "sum by(pod, model_name) (vllm:num_requests_waiting) > 50",
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDLowPrefixCacheHitRate",
    {"severity": "warning", **T},
    {
        "summary": "Low prefix cache hit rate",
        "description": "Prefix cache hit rate is 21.0%, below 30% threshold.\nReview cache sizing or "
        "consider tiered prefix caching.\n",
        "runbook_url": RB + "llmdlowprefixcachehitrate",
    },
    "(sum(rate(vllm:prefix_cache_hits_total[5m])) / sum(rate(vllm:prefix_cache_queries_total[5m]))) < 0.30",
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDGPUUnderutilization",
    {"severity": "warning", "node": "gpu-node-a100-3", **T},
    {
        "summary": "GPU underutilization on node gpu-node-a100-3",
        "description": "Average GPU utilization is 18.2% on node gpu-node-a100-3.\nConsider "
        "consolidating workloads or reducing replica count.\n",
        "runbook_url": RB + "llmdgpuunderutilization",
    },
    "avg by(node) (DCGM_FI_DEV_GPU_UTIL or nvidia_gpu_duty_cycle) < 30",
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDPrefillDecodeImbalance",
    {"severity": "warning", **T},
    {
        "summary": "Prefill/Decode workload imbalance detected",
        "description": "Prefill workers are 3.6x busier than decode workers.\nConsider rebalancing "
        "replica counts or adjusting autoscaling policies.\n",
        "runbook_url": RB + "llmdprefilldecodeimbalance",
    },
    'avg(vllm:num_requests_running{pod=~".*prefill.*"}) / avg(vllm:num_requests_running{pod=~".*decode.*"}) > 3',
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDPrefillQueueSaturation",
    {"severity": "warning", "pod": "vllm-prefill-5c7b9d8f4-q8wzm", **T},
    {
        "summary": "Prefill queue saturated on vllm-prefill-5c7b9d8f4-q8wzm",
        "description": "128 requests waiting in prefill queue on vllm-prefill-5c7b9d8f4-q8wzm.\nScale "
        "prefill replicas to reduce TTFT.\n",
        "runbook_url": RB + "llmdprefillqueuesaturation",
    },
    'sum by(pod) (vllm:num_requests_waiting{pod=~".*prefill.*"}) > 100',
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDDecodeKVCacheCritical",
    {"severity": "critical", "pod": "vllm-decode-7d9f8c6b5-x2kqp", **T},
    {
        "summary": "Decode worker KV cache critical on vllm-decode-7d9f8c6b5-x2kqp",
        "description": "KV cache utilization is 97.1% on decode pod vllm-decode-7d9f8c6b5-x2kqp.\n"
        "Imminent OOM or request failures expected.\n",
        "runbook_url": RB + "llmddecodekvCachecritical",
    },
    'avg by(pod) (vllm:kv_cache_usage_perc{pod=~".*decode.*"}) > 0.95',
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDAvailabilitySLOBurn",
    {"severity": "critical", "slo": "availability", **T},
    {
        "summary": "Availability SLO burn rate critical",
        "description": "Availability is below 99.9% SLO target over multiple time windows.\nError "
        "budget is being consumed at an unsustainable rate.\n",
        "runbook_url": RB + "llmdavailabilitysloburn",
    },
    "(1 - (sum(rate(inference_model_request_error_total[1h])) / sum(rate(inference_model_request_total[1h])))) < 0.999",
    expect("availability", "SEV1"),
)
am(
    G,
    LLMD,
    "LLMDLatencySLOViolation",
    {"severity": "warning", "slo": "latency", **T},
    {
        "summary": "Latency SLO violation detected",
        "description": "P99 latency over 1h is 6.3s, exceeding 5s SLO target.\nReview capacity and "
        "optimization opportunities.\n",
        "runbook_url": RB + "llmdlatencysloviolation",
    },
    "histogram_quantile(0.99, sum by(le) (rate(inference_model_request_duration_seconds_bucket[1h]))) > 5",
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDTTFTSLO",
    {"severity": "warning", "slo": "ttft", **T},
    {
        "summary": "TTFT SLO violation",
        "description": "P95 TTFT over 1h is 3.7s, exceeding 3s SLO target.\nConsider adding prefill "
        "capacity or optimizing prefix caching.\n",
        "runbook_url": RB + "llmdttftslo",
    },
    "histogram_quantile(0.95, sum by(le) (rate(vllm:time_to_first_token_seconds_bucket[1h]))) > 3",
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDPodRestartLoop",
    {"severity": "warning", "pod": "vllm-decode-7d9f8c6b5-x2kqp", "container": "vllm", **T},
    {
        "summary": "Pod vllm-decode-7d9f8c6b5-x2kqp restarting frequently",
        "description": "Container vllm in pod vllm-decode-7d9f8c6b5-x2kqp has restarted\n7 times in "
        "the last hour. Investigate crash loops.\n",
        "runbook_url": RB + "llmdpodrestartloop",
    },
    'increase(kube_pod_container_status_restarts_total{container=~"vllm|epp|routing-proxy"}[1h]) > 5',
    expect("availability", "SEV2"),
)
am(
    G,
    LLMD,
    "LLMDMemoryPressure",
    {"severity": "warning", "pod": "vllm-decode-7d9f8c6b5-x2kqp", "container": "vllm", **T},
    {
        "summary": "Memory pressure on vllm-decode-7d9f8c6b5-x2kqp",
        "description": "Container memory is at 88.4% of limit on vllm-decode-7d9f8c6b5-x2kqp.\nRisk of "
        "OOM kill if memory usage continues to grow.\n",
        "runbook_url": RB + "llmdmemorypressure",
    },
    'container_memory_working_set_bytes{container="vllm"} / container_spec_memory_limit_bytes{container="vllm"} > 0.85',
    expect("performance", "SEV3"),
)
am(
    G,
    LLMD,
    "LLMDLowReplicaCount",
    {"severity": "warning", **T},
    {
        "summary": "Low vLLM replica count",
        "description": "Only 1 vLLM replicas are healthy.\nReduced redundancy increases risk of "
        "service disruption.\n",
        "runbook_url": RB + "llmdlowreplicacount",
    },
    'count(up{job=~".*vllm.*"} == 1) < 2',
    expect("availability", "SEV2"),
)
am(
    G,
    LLMD,
    "LLMDPodsPending",
    {"severity": "warning", **T},
    {
        "summary": "Pods pending in llm-d namespace",
        "description": "2 pods have been pending for >15 minutes.\nCheck for resource constraints or "
        "scheduling issues.\n",
        "runbook_url": RB + "llmdpodspending",
    },
    'sum(kube_pod_status_phase{phase="Pending", namespace=~".*llm.*"}) > 0',
    expect("availability", "SEV2"),
)

# ---------------------------------------------------------------- KubeRay (Ray GCS)
am(
    "kuberay",
    KUBERAY,
    "MissingMetricRayGlobalControlStore",
    {"severity": "critical"},
    {
        "description": "Ray GCS is not emitting any metrics for Resource Update requests",
        "summary": "Ray GCS is not emitting metrics anymore",
    },
    "(absent(ray_gcs_update_resource_usage_time_bucket) == 1)",
    expect("availability", "SEV1"),
)

# ---------------------------------------------------------------- awesome-prometheus-alerts
G = "awesome-prometheus-alerts"
VAL = "\n  VALUE = {v}\n  LABELS = map[{l}]"
am(
    G,
    APA_LITELLM,
    "LitellmProviderSpendOverBudget",
    {"severity": "warning", "instance": "litellm:4000"},
    {
        "summary": "LiteLLM provider spend over budget (instance litellm:4000)",
        "description": "Cumulative spend for an LLM provider has exceeded the daily budget threshold. "
        "Replace the regex `(claude-|anthropic/).*` with your provider's model-name pattern. Useful as "
        "a soft-warning when `provider_budget_config` hard-cap is unavailable or disabled."
        + VAL.format(v="3.42", l="instance:litellm:4000"),
    },
    'sum(increase(litellm_spend_metric_total{model=~"(claude-|anthropic/).*"}[24h])) > 1',
    expect("performance", "SEV3"),
)
am(
    G,
    APA_LITELLM,
    "LitellmProxyFailedRequestsRateHigh",
    {"severity": "warning", "instance": "litellm:4000"},
    {
        "summary": "LiteLLM proxy failed requests rate high (instance litellm:4000)",
        "description": "LiteLLM proxy is returning failed responses to clients (>5% error rate over "
        "5min). Investigate downstream LLM provider availability or auth issues."
        + VAL.format(v="0.083", l="instance:litellm:4000"),
    },
    "sum(rate(litellm_proxy_failed_requests_metric_total[5m])) / sum(rate(litellm_proxy_total_requests_metric_total[5m])) > 0.05",
    expect("availability", "SEV2"),
)
am(
    G,
    APA_LITELLM,
    "LitellmRequestLatencyP95High",
    {"severity": "warning", "instance": "litellm:4000"},
    {
        "summary": "LiteLLM request latency p95 high (instance litellm:4000)",
        "description": "LiteLLM request total latency p95 exceeds 10 seconds over 5min. Check "
        "downstream LLM provider response-times and proxy queue-depth."
        + VAL.format(v="13.7", l="instance:litellm:4000"),
    },
    "histogram_quantile(0.95, sum(rate(litellm_request_total_latency_metric_bucket[5m])) by (le)) > 10",
    expect("performance", "SEV3"),
)
am(
    G,
    APA_PROM,
    "PrometheusJobMissing",
    {"severity": "warning", "job": "prometheus"},
    {
        "summary": "Prometheus job missing (instance )",
        "description": "A Prometheus job has disappeared" + VAL.format(v="1", l="job:prometheus"),
    },
    'absent(up{job="prometheus"})',
    expect("availability", "SEV2", ["prometheus"]),
)
am(
    G,
    APA_PROM,
    "PrometheusTargetMissing",
    {"severity": "critical", "job": "vllm", "instance": "10.4.2.17:8000"},
    {
        "summary": "Prometheus target missing (instance 10.4.2.17:8000)",
        "description": "A Prometheus target has disappeared. An exporter might be crashed."
        + VAL.format(v="0", l="instance:10.4.2.17:8000 job:vllm"),
    },
    "up == 0 unless on(job) (sum by (job) (up) == 0)",
    expect("availability", "SEV1", ["vllm"]),
)
am(
    G,
    APA_PROM,
    "PrometheusAllTargetsMissing",
    {"severity": "critical", "job": "dcgm-exporter"},
    {
        "summary": "Prometheus all targets missing (instance )",
        "description": "A Prometheus job does not have living target anymore."
        + VAL.format(v="0", l="job:dcgm-exporter"),
    },
    "sum by (job) (up) == 0",
    expect("availability", "SEV1", ["dcgm-exporter"]),
)
am(
    G,
    APA_PROM,
    "PrometheusNotificationsBacklog",
    {"severity": "warning", "instance": "prometheus:9090"},
    {
        "summary": "Prometheus notifications backlog (instance prometheus:9090)",
        "description": "The Prometheus notification queue has not been empty for 10 minutes"
        + VAL.format(v="12", l="instance:prometheus:9090"),
    },
    "min_over_time(prometheus_notifications_queue_length[10m]) > 0",
    expect("performance", "SEV3"),
)
am(
    G,
    APA_KUBE,
    "KubernetesContainerOomKiller",
    {
        "severity": "warning",
        "namespace": "llm-serving",
        "pod": "tgi-mistral-7b-6f5d8c9b7-lk2vn",
        "container": "text-generation-inference",
        "instance": "10.4.0.9:8080",
    },
    {
        "summary": "Kubernetes Container oom killer (instance 10.4.0.9:8080)",
        "description": "Container text-generation-inference in pod llm-serving/tgi-mistral-7b-6f5d8c9b7-lk2vn "
        "has been OOMKilled 2 times in the last 10 minutes."
        + VAL.format(v="2", l="container:text-generation-inference"),
    },
    '(kube_pod_container_status_restarts_total - kube_pod_container_status_restarts_total offset 10m >= 1) and ignoring (reason) min_over_time(kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}[10m]) == 1',
    expect("availability", "SEV2"),
)
am(
    G,
    APA_KUBE,
    "KubernetesPodCrashLooping",
    {
        "severity": "warning",
        "namespace": "kserve",
        "pod": "sklearn-iris-predictor-00001-deployment-7c9d-pq7rt",
        "instance": "10.4.0.9:8080",
    },
    {
        "summary": "Kubernetes pod crash looping (instance 10.4.0.9:8080)",
        "description": "Pod kserve/sklearn-iris-predictor-00001-deployment-7c9d-pq7rt is crash looping"
        + VAL.format(v="4", l="namespace:kserve"),
    },
    "increase(kube_pod_container_status_restarts_total[1m]) > 3",
    expect("availability", "SEV2"),
)
am(
    G,
    APA_KUBE,
    "KubernetesDeploymentReplicasMismatch",
    {
        "severity": "warning",
        "namespace": "ray-serve",
        "deployment": "llm-router",
        "instance": "10.4.0.9:8080",
    },
    {
        "summary": "Kubernetes Deployment replicas mismatch (instance 10.4.0.9:8080)",
        "description": "Deployment ray-serve/llm-router replicas mismatch"
        + VAL.format(v="1", l="deployment:llm-router"),
    },
    "kube_deployment_spec_replicas != kube_deployment_status_replicas_available",
    expect("availability", "SEV2", ["llm-router"]),
)

# ---------------------------------------------------------------- Datadog integration monitors
G = "datadog-integrations"


def dd(
    path: str,
    name: str,
    message: str,
    query: str,
    description: str,
    sev: str,
    host: str,
    exp: dict[str, Any],
) -> None:
    integ, fname = path.split("/")
    details = {"body": message, "query": query, "monitor_description": description}
    pd(
        "datadog-integrations",
        DD.format(integ, fname),
        name,
        f"[Triggered on {{host:{host}}}] {name}",
        host,
        sev,
        details,
        exp,
    )


dd(
    "vllm/latency.json",
    "Average request latency is high",
    "The average latency for requests coming into your vLLM instance is higher than the threshold. "
    "This means requests are waiting too long to be processed.",
    "sum(last_15m):sum:vllm.e2e_request_latency.seconds.sum{*}.as_count() / sum:vllm.e2e_request_latency.seconds.count{*}.as_count() > 0.3",
    "This monitor will alert you if vLLM request latency is too high. High latency means requests are "
    "waiting long to be processed. This results in clients having to wait longer for their requests "
    "to complete. It also indicates your vLLM server is receiving more requests than it can comfortably handle.",
    "critical",
    "gpu-inference-01",
    expect("performance", "SEV3", ["gpu-inference-01"]),
)
dd(
    "vllm/token_throughput.json",
    "vLLM application token usage is high",
    "The average number of tokens generated every second by your vLLM application is high.",
    "avg(last_15m):avg:vllm.avg.generation_throughput.toks_per_s{*} >= 10000",
    "The more tokens a language model generates per second, the more work it is doing. This monitor "
    "will alert you if a model that vLLM is serving is generating a lot of tokens, this indicates high "
    "load. This can result in lower response times and more resource consumption.",
    "critical",
    "gpu-inference-01",
    expect("performance", "SEV3", ["gpu-inference-01"]),
)
dd(
    "nvidia_triton/gpu_utilization.json",
    "Nvidia Triton GPU Utilization is High!",
    "GPU : GPU-5f3c2a1e utilization on triton-01 is high, please check it.",
    "avg(last_5m):avg:nvidia_triton.gpu.utilization{*} by {gpu_uuid} > 0.9",
    "Notify your team when a GPU's Utilization is too high.",
    "warning",
    "triton-01",
    expect("performance", "SEV3", ["triton-01"]),
)
dd(
    "nvidia_triton/cpu_memory.json",
    "Nvidia Triton CPU memory usage on host triton-01 is high.",
    "Your CPU on triton-01 is running high, please check it.",
    "avg(last_5m):(avg:nvidia_triton.cpu.memory.used_bytes{*} by {host} / avg:nvidia_triton.cpu.memory.total_bytes{*} by {host}) * 100 > 85",
    "Notify your team when the CPU memory usage is too high.",
    "critical",
    "triton-01",
    expect("performance", "SEV3", ["triton-01"]),
)
dd(
    "dcgm/gpu_temperature.json",
    "DCGM: GPU Temperature is High",
    "Your GPU on gpu-node-7 is running hot, please check it.",
    "avg(last_5m):avg:dcgm.temperature{*} by {host} > 85",
    "Notify your team when a GPU's temperature is too high.",
    "critical",
    "gpu-node-7",
    expect("performance", "SEV3", ["gpu-node-7"]),
)
dd(
    "dcgm/memory_usage.json",
    "DCGM: GPU Memory Usage is High",
    "Your GPU memory usage is high: 94.2%.",
    "avg(last_5m):avg:dcgm.mem.copy_utilization{*} > 90",
    "Notify your team when a GPU's memory usage is too high.",
    "critical",
    "gpu-node-7",
    expect("performance", "SEV3", ["gpu-node-7"]),
)
dd(
    "dcgm/xid_errors.json",
    "DCGM: XID Errors Detected",
    "An XID error occurred.",
    "avg(last_5m):avg:dcgm.xid_errors{*} > 5",
    "XID errors are related to the X Window System, which is responsible for managing graphical user "
    "interfaces on Unix-like operating systems. This monitor tracks the average count of XID errors "
    "within the DCGM to avoid graphical glitches and instability.",
    "critical",
    "gpu-node-7",
    expect("availability", "SEV1", ["gpu-node-7"]),
)
dd(
    "torchserve/error_ratio.json",
    "TorchServe: Requests error ratio is high",
    "The error ratio is high!.",
    "sum(last_1h):(sum:torchserve.openmetrics.requests.4xx.count{*}.as_count() + sum:torchserve.openmetrics.requests.5xx.count{*}.as_count()) / (sum:torchserve.openmetrics.requests.2xx.count{*}.as_count() + sum:torchserve.openmetrics.requests.4xx.count{*}.as_count() + sum:torchserve.openmetrics.requests.5xx.count{*}.as_count()) > 0.1",
    "Notify your team when the error ratio is too high.",
    "critical",
    "torchserve-02",
    expect("availability", "SEV1", ["torchserve-02"]),
)
dd(
    "nvidia_nim/latency.json",
    "Average request latency is high",
    "The average latency for requests coming into your NVIDIA instance is higher than the threshold. "
    "This means requests are waiting too long to be processed.",
    "sum(last_15m):sum:nvidia_nim.e2e_request_latency.seconds.sum{*}.as_count() / sum:nvidia_nim.e2e_request_latency.seconds.count{*}.as_count() > 0.3",
    "This monitor alerts you if NVIDIA request latency is too high. High latency means requests are "
    "waiting long to be processed. This results in clients having to wait longer for their requests "
    "to complete. It also indicates your NVIDIA server is receiving more requests than it can comfortably handle.",
    "critical",
    "nim-llama3-01",
    expect("performance", "SEV3", ["nim-llama3-01"]),
)
dd(
    "ray/gpu_utilization.json",
    "GPU Utilization low on Ray.io Node",
    "GPU Utilization is under 12%. Your system may be overprovisioned. This occurred on node: 10.0.3.21.",
    "avg(last_5m):max:ray.node.gpus_utilization{*} by {host} < 30",
    "",
    "critical",
    "ray-worker-3",
    expect("performance", "SEV3", ["ray-worker-3"]),
)
dd(
    "ray/high_memory.json",
    "High Memory Usage on Ray.io Node",
    "There is less than 3.8% memory available.",
    "avg(last_5m):100 * avg:ray.node.mem.available{*} / avg:ray.node.mem.total{*} < 5",
    "",
    "critical",
    "ray-head-0",
    expect("performance", "SEV3", ["ray-head-0"]),
)
dd(
    "ray/failed_tasks.json",
    "High Number of Failed Tasks on Ray.io Node",
    "There are 41 tasks that failed to be schedule because workers were not available. This occurred "
    "on node: 10.0.3.21. The stated reason was worker_startup_timeout.",
    "avg(last_5m):avg:ray.scheduler.failed_worker_startup{*} by {reason,nodeaddress} > 25",
    "",
    "critical",
    "ray-head-0",
    expect("availability", "SEV1", ["ray-head-0"]),
)

# ---------------------------------------------------------------- LiteLLM proxy alert types
G = "litellm"
LVL = "Level: `{lvl}`\nTimestamp: `10:00:00`\n\nMessage: "
native(
    G,
    LITELLM,
    "llm_too_slow",
    "Responses are slow - 412.73s response time > Alerting threshold: 300s",
    LVL.format(lvl="Low")
    + "`Responses are slow - 412.73s response time > Alerting threshold: 300s`"
    "\nRequest Model: `gpt-4o`\nAPI Base: `https://api.openai.com/v1`\nMessages: `[{'role': 'user', 'content': 'Summarise the attached contract'}]`",
    "low",
    ["gpt-4o"],
    expect("performance", "SEV4", ["gpt-4o"]),
    {"alert_type": "llm_too_slow"},
)
native(
    G,
    LITELLM,
    "llm_requests_hanging",
    "Requests are hanging - 300s+ request time",
    LVL.format(lvl="Medium") + "`Requests are hanging - 300s+ request time`\nRequest Model: "
    "`claude-3-5-sonnet`\nMessages: `[{'role': 'user', 'content': 'hi'}]`\nAPI Base: `https://api.anthropic.com`",
    "medium",
    ["claude-3-5-sonnet"],
    expect("performance", "SEV3", ["claude-3-5-sonnet"]),
    {"alert_type": "llm_requests_hanging"},
)
native(
    G,
    LITELLM,
    "budget_alerts:budget_crossed",
    "Proxy Budget: Budget Crossed",
    LVL.format(lvl="High")
    + "Proxy Budget: Budget Crossed\n Total Budget:`500.0`\n\n\nspend: 512.37\n",
    "high",
    ["litellm-proxy"],
    expect("performance", "SEV3", ["litellm-proxy"]),
    {"alert_type": "budget_alerts"},
)
native(
    G,
    LITELLM,
    "budget_alerts:threshold_crossed",
    "Team Budget: 15% Threshold Crossed",
    LVL.format(lvl="High") + "Team Budget: 15% Threshold Crossed\n\n\nteam_id: research-agents\n",
    "high",
    ["litellm-proxy"],
    expect("performance", "SEV3", ["litellm-proxy"]),
    {"alert_type": "budget_alerts"},
)
native(
    G,
    LITELLM,
    "outage_alerts:minor",
    "Minor Service Outage",
    LVL.format(lvl="Medium") + "\n\n*⚠️ Minor Service Outage*\n\n\n*Model Name:* `azure/gpt-4o-eu`\n"
    "*Provider:* `azure`\n*API Base:* `https://acme-eu.openai.azure.com`\n\n\n*Errors:*\n\n"
    "Timeout Errors: 2\n\nAPI Errors: 3\n\n\n*Last Check:* `0.0213s ago`\n\n",
    "medium",
    ["azure/gpt-4o-eu"],
    expect("availability", "SEV2", ["azure/gpt-4o-eu"]),
    {"alert_type": "outage_alerts"},
)
native(
    G,
    LITELLM,
    "outage_alerts:major",
    "Major Service Outage",
    LVL.format(lvl="High") + "\n\n*⚠️ Major Service Outage*\n\n\n*Model Name:* `azure/gpt-4o-eu`\n"
    "*Provider:* `azure`\n*API Base:* `https://acme-eu.openai.azure.com`\n\n\n*Errors:*\n\n"
    "Timeout Errors: 3\n\nAPI Errors: 8\n\n\n*Last Check:* `0.0188s ago`\n\n",
    "high",
    ["azure/gpt-4o-eu"],
    expect("availability", "SEV1", ["azure/gpt-4o-eu"]),
    {"alert_type": "outage_alerts"},
)
native(
    G,
    LITELLM,
    "region_outage_alerts:minor",
    "Minor Service Outage",
    LVL.format(lvl="Medium") + "\n\n*⚠️ Minor Service Outage*\n\n\n*Region Name:* `us-east-1`\n"
    "*Provider:* `bedrock`\n\n\n*Errors:*\n\nTimeout Errors: 1\n\nAPI Errors: 4\n\n\n*Last Check:* `0.4s ago`\n\n",
    "medium",
    ["bedrock/anthropic.claude-3-haiku"],
    expect("availability", "SEV2", ["bedrock/anthropic.claude-3-haiku"]),
    {"alert_type": "region_outage_alerts"},
)
native(
    G,
    LITELLM,
    "new_model_added",
    "New Model Added",
    "\n*🚅 New Model Added*\nModel Name: `gpt-4o-mini-eu`\n\n\nUsage OpenAI Python SDK:\n```\nimport "
    'openai\nclient = openai.OpenAI(\n    api_key="your_api_key",\n    base_url=http://0.0.0.0:4000\n)\n\n'
    'response = client.chat.completions.create(\n    model="gpt-4o-mini-eu", # model to send to the proxy\n'
    '    messages = [\n        {\n            "role": "user",\n            "content": "this is a test '
    'request, write a short poem"\n        }\n    ]\n)\n```\n\nModel Info: \n```\nmax_tokens: 16384\n'
    "input_cost_per_token: 0.00000015\noutput_cost_per_token: 0.00000060\n```\n",
    "low",
    ["gpt-4o-mini-eu"],
    expect(None, None),
    {"alert_type": "new_model_added"},
)
native(
    G,
    LITELLM,
    "daily_reports",
    "Daily report",
    "\n\nTime: `1764496800.0`s\nHere are today's key metrics 📈: \n\n\n\n*❗️ Top Deployments with Most "
    "Failed Requests:*\n\n\t1. Deployment: `azure/gpt-4o-eu`, Failed Requests: `37`,  API Base: "
    "`https://acme-eu.openai.azure.com`\n\n\n*😅 Top Slowest Deployments:*\n\n\t1. Deployment: "
    "`gpt-4o`, Latency per output token: `0.042s/token`,  API Base: `https://api.openai.com/v1`\n\n"
    "\n\nNext Run is at: `1764540000.0`s",
    "low",
    ["litellm-proxy"],
    expect(None, None),
    {"alert_type": "daily_reports"},
)
native(
    G,
    LITELLM,
    "spend_reports",
    "Spend Report",
    LVL.format(lvl="Low")
    + "*💸 Spend Report for `11-23-2026 - 11-30-2026` (7 days)*\n\n*Team Spend "
    "Report:*\nTeam: `research-agents` | Spend: `$412.5531`\nTeam: `support-bot` | Spend: `$88.1207`\n",
    "low",
    ["litellm-proxy"],
    expect(None, None),
    {"alert_type": "spend_reports"},
)

# ---------------------------------------------------------------- Defender for Cloud, AI alerts
G = "defender-for-cloud-ai"


def defender(
    alert_type: str, name: str, description: str, tactics: str, sev: str, exp: dict[str, Any]
) -> None:
    desc = f"{description}\n\nMITRE tactics: {tactics}"
    native(
        G,
        DEFENDER,
        alert_type,
        name,
        desc,
        sev.lower(),
        ["aoai-prod-eastus/gpt-4o-support"],
        exp,
        {"alertType": alert_type, "product": "Microsoft Defender for Cloud"},
    )


defender(
    "AI.Azure_CredentialTheftAttempt",
    "Detected credential theft attempts on an Azure AI model deployment",
    "The credential theft alert is designed to notify the SOC when credentials are detected within "
    "GenAI model responses to a user prompt, indicating a potential breach. This alert is crucial "
    "for detecting cases of credential leak or theft, which are unique to generative AI and can "
    "have severe consequences if successful.",
    "Credential Access, Lateral Movement, Exfiltration",
    "Medium",
    expect("data_leak", "SEV1", ["aoai-prod-eastus/gpt-4o-support"]),
)
defender(
    "AI.Azure_Jailbreak.ContentFiltering.BlockedAttempt",
    "A Jailbreak attempt on an Azure AI model deployment was blocked by Azure AI Content Safety Prompt Shields",
    "The Jailbreak alert, carried out using a direct prompt injection technique, is designed to "
    "notify the SOC there was an attempt to manipulate the system prompt to bypass the generative "
    "AI's safeguards, potentially accessing sensitive data or privileged functions. It indicated "
    "that such attempts were blocked by Azure Responsible AI Content Safety (also known as Prompt "
    "Shields), ensuring the integrity of the AI resources and the data security.",
    "Privilege Escalation, Defense Evasion",
    "Medium",
    expect("toxicity", "SEV2", ["aoai-prod-eastus/gpt-4o-support"]),
)
defender(
    "AI.Azure_Jailbreak.ContentFiltering.DetectedAttempt",
    "A Jailbreak attempt on an Azure AI model deployment was detected by Azure AI Content Safety Prompt Shields",
    "The Jailbreak alert, carried out using a direct prompt injection technique, is designed to "
    "notify the SOC there was an attempt to manipulate the system prompt to bypass the generative "
    "AI's safeguards, potentially accessing sensitive data or privileged functions. It indicated "
    "that such attempts were detected by Azure Responsible AI Content Safety (also known as Prompt "
    "Shields), but weren't blocked due to content filtering settings or due to low confidence.",
    "Privilege Escalation, Defense Evasion",
    "Medium",
    expect("toxicity", "SEV2", ["aoai-prod-eastus/gpt-4o-support"]),
)
defender(
    "AI.Azure_DataLeakInModelResponse.Sensitive",
    "Sensitive Data Exposure Detected in Azure AI Model Deployment",
    "The sensitive data leakage alert is designed to notify the SOC that a GenAI model responded "
    "to a user prompt with sensitive information, potentially due to a malicious user attempting "
    "to bypass the generative AI's safeguards to access unauthorized sensitive data.",
    "Collection",
    "Low",
    expect("data_leak", "SEV1", ["aoai-prod-eastus/gpt-4o-support"]),
)
defender(
    "AI.Azure_MaliciousUrl.ModelResponse",
    "Corrupted AI application\\model\\data directed a phishing attempt at a user",
    "This alert indicates a corruption of an AI application developed by the organization, as it "
    "has actively shared a known malicious URL used for phishing with a user. The URL originated "
    "within the application itself, the AI model, or the data the application can access.",
    "Impact (Defacement)",
    "High",
    expect("toxicity", "SEV2", ["aoai-prod-eastus/gpt-4o-support"]),
)
defender(
    "AI.Azure_MaliciousUrl.UnknownSource",
    "Phishing URL shared in an AI application",
    "This alert indicates a potential corruption of an AI application, or a phishing attempt by "
    "one of the end users. The alert determines that a malicious URL used for phishing was passed "
    "during a conversation through the AI application, however the origin of the URL (user or "
    "application) is unclear.",
    "Impact (Defacement), Collection",
    "High",
    expect("toxicity", "SEV2", ["aoai-prod-eastus/gpt-4o-support"]),
)
defender(
    "AI.Azure_MaliciousUrl.UserPrompt",
    "Phishing attempt detected in an AI application",
    "This alert indicates a URL used for phishing attack was sent by a user to an AI application. "
    "The content typically lures visitors into entering their corporate credentials or financial "
    "information into a legitimate looking website. Sending this to an AI application might be for "
    "the purpose of corrupting it, poisoning the data sources it has access to, or gaining access "
    "to employees or other customers via the application's tools.",
    "Collection",
    "High",
    expect("toxicity", "SEV2", ["aoai-prod-eastus/gpt-4o-support"]),
)
defender(
    "AI.Azure_ASCIISmuggling",
    "ASCII Smuggling prompt injection detected",
    "ASCII smuggling technique allows an attacker to send invisible instructions to an AI model. "
    "These attacks are commonly attributed to indirect prompt injections, where the malicious "
    "threat actor is passing hidden instructions to bypass the application and model guardrails. "
    "These attacks are usually applied without the user's knowledge given their lack of visibility "
    "in the text and can compromise the application tools or connected data sets.",
    "Impact",
    "High",
    expect("toxicity", "SEV2", ["aoai-prod-eastus/gpt-4o-support"]),
)
defender(
    "AI.Azure_DOWDuplicateRequests",
    "Suspected wallet attack - recurring requests",
    "Wallet attacks are a family of attacks common for AI resources that consist of threat actors "
    "excessively engage with an AI resource directly or through an application in hopes of causing "
    "the organization large financial damages. This detection tracks high volumes of identical "
    "requests targeting the same AI resource which may be caused due to an ongoing attack.",
    "Impact",
    "Medium",
    expect("performance", "SEV3", ["aoai-prod-eastus/gpt-4o-support"]),
)
defender(
    "AI.Azure_DOWVolumeAnomaly",
    "Suspected wallet attack - volume anomaly",
    "Wallet attacks are a family of attacks common for AI resources that consist of threat actors "
    "excessively engage with an AI resource directly or through an application in hopes of causing "
    "the organization large financial damages. This detection tracks high volumes of requests and "
    "responses by the resource that are inconsistent with its historical usage patters.",
    "Impact",
    "Medium",
    expect("performance", "SEV3", ["aoai-prod-eastus/gpt-4o-support"]),
)

# ---------------------------------------------------------------- Bedrock Guardrails (CloudWatch)
G = "aws-bedrock-guardrails"


def bedrock(
    metric: str,
    dims: dict[str, str],
    stat: str,
    desc: str,
    threshold: float,
    value: float,
    exp: dict[str, Any],
    sev: str = "warning",
) -> None:
    dim = ", ".join(f"{k}={v}" for k, v in dims.items())
    name = f"Bedrock Guardrails {metric} ({dim})"
    details = {
        "AlarmName": f"guardrail-{metric}-{dims.get('GuardrailPolicyType', 'all')}",
        "AlarmDescription": f"{metric}: {desc}",
        "Namespace": "AWS/Bedrock/Guardrails",
        "MetricName": metric,
        "Dimensions": dim,
        "Statistic": stat,
        "NewStateReason": f"Threshold Crossed: 1 datapoint [{value}] was greater than the "
        f"threshold ({threshold}).",
        "value": value,
        "threshold": threshold,
    }
    pd(
        G,
        BEDROCK,
        name,
        f"ALARM: guardrail-{metric} in US East (N. Virginia)",
        "support-assistant",
        sev,
        details,
        exp,
        component="gr-7x2k9q4m1z",
    )


bedrock(
    "InvocationsIntervened",
    {"GuardrailPolicyType": "ContentPolicy", "GuardrailContentSource": "Output"},
    "SampleCount",
    "Number of invocations where the guardrails intervened",
    50,
    184,
    expect("toxicity", "SEV2", ["support-assistant", "gr-7x2k9q4m1z"]),
)
bedrock(
    "InvocationsIntervened",
    {"GuardrailPolicyType": "ContextualGroundingPolicy", "GuardrailContentSource": "Output"},
    "SampleCount",
    "Number of invocations where the guardrails intervened",
    20,
    61,
    expect("hallucination", "SEV3", ["support-assistant", "gr-7x2k9q4m1z"]),
)
bedrock(
    "InvocationsIntervened",
    {"GuardrailPolicyType": "SensitiveInformationPolicy", "GuardrailContentSource": "Input"},
    "SampleCount",
    "Number of invocations where the guardrails intervened",
    20,
    33,
    expect(None, None),
)
bedrock(
    "InvocationServerErrors",
    {"Operation": "ApplyGuardrail"},
    "SampleCount",
    "Number of invocations that result in AWS server-side errors",
    10,
    57,
    expect("availability", "SEV2", ["support-assistant", "gr-7x2k9q4m1z"]),
)
bedrock(
    "InvocationThrottles",
    {"Operation": "ApplyGuardrail"},
    "SampleCount",
    "Number of invocations that the system throttled. Throttled requests don't count as "
    "invocations or errors",
    10,
    240,
    expect("availability", "SEV2", ["support-assistant", "gr-7x2k9q4m1z"]),
)
bedrock(
    "InvocationLatency",
    {"Operation": "ApplyGuardrail"},
    "p99",
    "The time from when a request is sent to when the last token is received.",
    1500,
    4120,
    expect("performance", "SEV3", ["support-assistant", "gr-7x2k9q4m1z"]),
)

# ---------------------------------------------------------------- SageMaker Model Monitor
G = "aws-sagemaker-model-monitor"


def sagemaker(check: str, feature: str, desc: str, violation: str, exp: dict[str, Any]) -> None:
    details = {
        "MonitoringSchedule": "credit-risk-xgb-data-quality",
        "EndpointName": "credit-risk-xgb",
        "constraint_check_type": check,
        "feature_name": feature,
        "description": violation,
        "check_definition": desc,
    }
    pd(
        G,
        SAGEMAKER,
        f"{check}:{feature}",
        f"Model Monitor violation {check} on credit-risk-xgb",
        "credit-risk-xgb",
        "warning",
        details,
        exp,
    )


sagemaker(
    "baseline_drift_check",
    "annual_income",
    "If the calculated distribution distance between the current and the baseline datasets is more "
    "than the threshold specified in monitoring_config.comparison_threshold, this violation is flagged.",
    "Baseline drift distance: 0.31 exceeds threshold: 0.1",
    expect("performance", "SEV3", ["credit-risk-xgb"]),
)
sagemaker(
    "data_type_check",
    "loan_amount",
    "If the data types in the current execution are not the same as in the baseline dataset, this "
    "violation is flagged.",
    "Data type match requirement is not met. Expected data type: "
    "Fractional, Expected match: 100.0%. Observed: Only 91.3% of data is Fractional.",
    expect("performance", "SEV3", ["credit-risk-xgb"]),
)
sagemaker(
    "completeness_check",
    "employment_length",
    "If the completeness (% of non-null items) observed in the current execution exceeds the "
    "threshold specified in completeness threshold specified per feature, this violation is flagged.",
    "Data completeness requirement is not met. Expected completeness: 100.0%. Observed: Only "
    "76.8% of data is complete.",
    expect("performance", "SEV3", ["credit-risk-xgb"]),
)
sagemaker(
    "missing_column_check",
    "debt_to_income",
    "If the number of columns in the current dataset is less than the number in the baseline "
    "dataset, this violation is flagged.",
    "There are missing columns in current dataset. "
    "Number of columns in current dataset: 11, Number of columns in baseline constraints: 12",
    expect("performance", "SEV3", ["credit-risk-xgb"]),
)

# ---------------------------------------------------------------- Datadog LLM Observability
G = "datadog-llm-observability"


def llmobs(evaluation: str, definition: str, value: str, sev: str, exp: dict[str, Any]) -> None:
    name = f"LLM Observability: {evaluation} evaluations above threshold on support-chatbot"
    details = {
        "body": f"{value} of spans in the last 15 minutes were flagged by the {evaluation} "
        f"evaluation.",
        "evaluation": evaluation,
        "evaluation_definition": definition,
        "ml_app": "support-chatbot",
    }
    pd(G, DDLLMOBS, evaluation, f"[Triggered] {name}", "support-chatbot", sev, details, exp)


llmobs(
    "Hallucination",
    "Hallucination evaluations identify instances where the LLM makes a claim "
    "that disagrees with the provided input context.",
    "14%",
    "warning",
    expect("hallucination", "SEV3", ["support-chatbot"]),
)
llmobs(
    "Prompt Injection",
    "Prompt Injection evaluations identify attempts by unauthorized or "
    "malicious authors to manipulate the LLM's responses or redirect the conversation in ways not "
    "intended by the original author.",
    "6%",
    "warning",
    expect("toxicity", "SEV2", ["support-chatbot"]),
)
llmobs(
    "Toxicity",
    "Toxicity evaluations evaluate each input prompt from the user and the response "
    "from the LLM application for toxic content.",
    "4%",
    "warning",
    expect("toxicity", "SEV2", ["support-chatbot"]),
)
llmobs(
    "Sensitive Data Scanner",
    "Sensitive Data Scanner identifies sensitive information such as "
    "emails, credit card numbers and API keys in the input and output of LLM requests.",
    "2% (output: email_address, credit_card)",
    "error",
    expect("data_leak", "SEV1", ["support-chatbot"]),
)

# ---------------------------------------------------------------- more awesome-prometheus-alerts
G = "awesome-prometheus-alerts"
PROBE = {"job": "blackbox", "instance": "https://llm-gateway.example.com/v1/models"}
am(
    G,
    APA_BB,
    "BlackboxProbeFailed",
    {"severity": "critical", **PROBE},
    {
        "summary": "Blackbox probe failed (instance https://llm-gateway.example.com/v1/models)",
        "description": "Probe failed" + VAL.format(v="0", l="job:blackbox"),
    },
    "probe_success == 0",
    expect("availability", "SEV1", ["blackbox"]),
)
am(
    G,
    APA_BB,
    "BlackboxSlowProbe",
    {"severity": "warning", **PROBE},
    {
        "summary": "Blackbox slow probe (instance https://llm-gateway.example.com/v1/models)",
        "description": "Blackbox probe took more than 1s to complete"
        + VAL.format(v="2.7", l="job:blackbox"),
    },
    "probe_duration_seconds > 1",
    expect("performance", "SEV3", ["blackbox"]),
)
am(
    G,
    APA_BB,
    "BlackboxProbeHttpFailure",
    {"severity": "critical", **PROBE},
    {
        "summary": "Blackbox probe HTTP failure (instance https://llm-gateway.example.com/v1/models)",
        "description": "HTTP status code is not 200-399" + VAL.format(v="503", l="job:blackbox"),
    },
    "probe_http_status_code <= 199 OR probe_http_status_code >= 400",
    expect("availability", "SEV1", ["blackbox"]),
)
am(
    G,
    APA_BB,
    "BlackboxSslCertificateExpired",
    {"severity": "critical", **PROBE},
    {
        "summary": "Blackbox SSL certificate expired (instance https://llm-gateway.example.com/v1/models)",
        "description": "SSL certificate has expired already"
        + VAL.format(v="-0.4", l="job:blackbox"),
    },
    "round((last_over_time(probe_ssl_earliest_cert_expiry[10m]) - time()) / 86400, 0.1) < 0",
    expect("availability", "SEV1", ["blackbox"]),
)
am(
    G,
    APA_BB,
    "BlackboxProbeSlowHttp",
    {"severity": "warning", **PROBE},
    {
        "summary": "Blackbox probe slow HTTP (instance https://llm-gateway.example.com/v1/models)",
        "description": "HTTP request took more than 1s" + VAL.format(v="1.9", l="job:blackbox"),
    },
    "probe_http_duration_seconds > 1",
    expect("performance", "SEV3", ["blackbox"]),
)
am(
    G,
    APA_KUBE,
    "KubernetesNodeNotReady",
    {"severity": "critical", "node": "gpu-a100-node-4", "instance": "10.4.0.9:8080"},
    {
        "summary": "Kubernetes Node not ready (instance 10.4.0.9:8080)",
        "description": "Node gpu-a100-node-4 has been unready for a long time"
        + VAL.format(v="0", l="node:gpu-a100-node-4"),
    },
    'kube_node_status_condition{condition="Ready",status="true"} == 0',
    expect("availability", "SEV1"),
)
am(
    G,
    APA_KUBE,
    "KubernetesNodeMemoryPressure",
    {"severity": "critical", "node": "gpu-a100-node-4", "instance": "10.4.0.9:8080"},
    {
        "summary": "Kubernetes Node memory pressure (instance 10.4.0.9:8080)",
        "description": "Node gpu-a100-node-4 has MemoryPressure condition"
        + VAL.format(v="1", l="node:gpu-a100-node-4"),
    },
    'kube_node_status_condition{condition="MemoryPressure",status="true"} == 1',
    expect("performance", "SEV3"),
)
am(
    G,
    APA_KUBE,
    "KubernetesHpaMetricsUnavailability",
    {
        "severity": "warning",
        "namespace": "kserve",
        "horizontalpodautoscaler": "llama3-predictor",
        "instance": "10.4.0.9:8080",
    },
    {
        "summary": "Kubernetes HPA metrics unavailability (instance 10.4.0.9:8080)",
        "description": "HPA kserve/llama3-predictor is unable to collect metrics"
        + VAL.format(v="1", l="namespace:kserve"),
    },
    'kube_horizontalpodautoscaler_status_condition{status="false", condition="ScalingActive"} == 1',
    expect("availability", "SEV2"),
)
am(
    G,
    APA_KUBE,
    "KubernetesStatefulsetReplicasMismatch",
    {
        "severity": "warning",
        "namespace": "llm-serving",
        "statefulset": "triton-ensemble",
        "instance": "10.4.0.9:8080",
    },
    {
        "summary": "Kubernetes StatefulSet replicas mismatch (instance 10.4.0.9:8080)",
        "description": "StatefulSet does not match the expected number of replicas."
        + VAL.format(v="1", l="statefulset:triton-ensemble"),
    },
    "kube_statefulset_status_replicas_ready != kube_statefulset_status_replicas",
    expect("availability", "SEV2"),
)
am(
    G,
    APA_PROM,
    "PrometheusTargetMissingWithWarmupTime",
    {"severity": "critical", "job": "triton", "instance": "10.4.3.2:8002"},
    {
        "summary": "Prometheus target missing with warmup time (instance 10.4.3.2:8002)",
        "description": "Allow a job time to start up (10 minutes) before alerting that it's down."
        + VAL.format(v="1", l="instance:10.4.3.2:8002 job:triton"),
    },
    "sum by (instance, job) ((up == 0) * on (instance) group_left(__name__) (node_time_seconds - node_boot_time_seconds > 600))",
    expect("availability", "SEV1", ["triton"]),
)
am(
    G,
    APA_PROM,
    "PrometheusTooManyRestarts",
    {"severity": "warning", "job": "prometheus", "instance": "prometheus:9090"},
    {
        "summary": "Prometheus too many restarts (instance prometheus:9090)",
        "description": "Prometheus has restarted more than twice in the last 15 minutes. It might be crashlooping."
        + VAL.format(v="3", l="job:prometheus"),
    },
    'changes(process_start_time_seconds{job=~"prometheus|pushgateway|alertmanager"}[15m]) > 2',
    expect("availability", "SEV2", ["prometheus"]),
)

# ---------------------------------------------------------------- IBM Autopilot (GPU health)
G = "ibm-autopilot"
AP = {"alert": "autopilot"}
am(
    G,
    AUTOPILOT,
    "LowPCIeBandwidth",
    {"severity": "warning", "node": "gpu-node-12", "deviceid": "0", "value": "3", **AP},
    {
        "description": "GPU device 0 on node gpu-node-12 has a PCIE bandwidth of 3 .\n",
        "summary": "GPU with a PCIe bandwidth of 4 or less ",
    },
    'sum (autopilot_health_checks{health="pciebw"}<=4) by (node, deviceid, value) > 0',
    expect("performance", "SEV3"),
)
am(
    G,
    AUTOPILOT,
    "DCGMLevel1Errors",
    {"severity": "warning", "node": "gpu-node-12", **AP},
    {
        "description": "GPUs on node gpu-node-12 have DCGM Level 1 failures '.\n",
        "summary": "GPUs have DCGM failures",
    },
    'sum (autopilot_health_checks{health="dcgm"}==1) by (node)',
    expect("availability", "SEV2"),
)
am(
    G,
    AUTOPILOT,
    "GPUPowerSlowdownEnabled",
    {"severity": "warning", "node": "gpu-node-12", "deviceid": "3", **AP},
    {
        "description": "GPU device 3 on node gpu-node-12 has power slowdown enabled\n",
        "summary": "A GPU has power slowdown enabled .",
    },
    'sum (autopilot_health_checks{health="power-slowdown"}==1) by (node, deviceid)',
    expect("performance", "SEV3"),
)
am(
    G,
    AUTOPILOT,
    "RemappedRowsActive",
    {"severity": "warning", "node": "gpu-node-12", "deviceid": "5", **AP},
    {
        "description": "GPU device 5 on node gpu-node-12 with incorrect remapped rows in memory .\n",
        "summary": "A GPU device has incorrect remapped rows",
    },
    'sum (autopilot_health_checks{health="remapped"}==1) by (node, deviceid)',
    expect("availability", "SEV2"),
)
am(
    G,
    AUTOPILOT,
    "DCGMLevel3Errors",
    {"severity": "critical", "node": "gpu-node-12", **AP},
    {
        "description": "A node reported errors after running DCGM level 3 - check health of nodes .\n",
        "summary": "Node gpu-node-12 has GPU errors",
    },
    'kube_node_labels{label_autopilot_ibm_com_dcgm_level_3=~".*ERR.*"}',
    expect("availability", "SEV1"),
)
am(
    G,
    AUTOPILOT,
    "PingFailures",
    {"severity": "critical", "deviceid": "10.20.4.17", **AP},
    {
        "description": "IP 10.20.4.17 on node  is unreachable .\n",
        "summary": "Node has unreachable IPs",
    },
    'sum (autopilot_health_checks{health="ping"}==1) by (deviceid)',
    expect("availability", "SEV1"),
)
am(
    G,
    AUTOPILOT,
    "GPUNodeHealth",
    {"severity": "warning", "node": "gpu-node-12", **AP},
    {
        "description": "Node gpu-node-12 reported errors after running Autopilot's periodic health checks .\n",
        "summary": "Node gpu-node-12 has errors",
    },
    'kube_node_labels{label_autopilot_ibm_com_gpuhealth=~".*ERR.*"}',
    expect("availability", "SEV2"),
)

# ---------------------------------------------------------------- more Datadog / Bedrock
dd(
    "ray/cpu_utilization.json",
    "CPU Utilization maxing out on Ray.io node",
    "CPU Utilization is at 99.2%. Please check resource provisioning. This occurred on node: 10.0.3.21. "
    "\n\n##Please note that you can use a similar query for GPU Utilization\n##replace the above metric "
    "with ray.node.gram_used or ray.node.gpus_utilization",
    "avg(last_5m):max:ray.node.cpu_utilization{*} by {host} > 98",
    "",
    "critical",
    "ray-worker-3",
    expect("performance", "SEV3", ["ray-worker-3"]),
)
dd(
    "ray/mem_utilization.json",
    "High Memory Usage on Ray.io Node",
    "There is less than 8.7% memory available.",
    "avg(last_5m):100 * avg:ray.node.mem.available{*} / avg:ray.node.mem.total{*} < 5",
    "",
    "warning",
    "ray-worker-3",
    expect("performance", "SEV3", ["ray-worker-3"]),
)
G = "aws-bedrock-guardrails"
bedrock(
    "InvocationsIntervened",
    {"GuardrailPolicyType": "WordPolicy", "GuardrailContentSource": "Output"},
    "SampleCount",
    "Number of invocations where the guardrails intervened",
    20,
    47,
    expect("toxicity", "SEV2", ["support-assistant", "gr-7x2k9q4m1z"]),
)
bedrock(
    "InvocationsIntervened",
    {"GuardrailPolicyType": "SensitiveInformationPolicy", "GuardrailContentSource": "Output"},
    "SampleCount",
    "Number of invocations where the guardrails intervened",
    20,
    29,
    expect("data_leak", "SEV1", ["support-assistant", "gr-7x2k9q4m1z"]),
)


def resolved(copy_of: str) -> None:
    """The resolved notification of an alert above: it closes an incident, never opens one."""
    import copy

    src = next(r for r in records if r["name"] == copy_of)
    rec = copy.deepcopy(src)
    p = rec["payload"]
    if "alerts" in p:
        p["status"] = "resolved"
        p["alerts"][0]["status"] = "resolved"
        p["alerts"][0]["endsAt"] = "2026-11-30T10:25:00Z"
    elif "event_action" in p:
        p["event_action"] = "resolve"
        p["payload"]["summary"] = p["payload"]["summary"].replace("[Triggered", "[Recovered")
    rec["name"] = copy_of + ":resolved"
    rec["expected"] = [expect(None, None)]
    records.append(rec)


resolved("LLMDHighErrorRate")
resolved("KubernetesPodCrashLooping")
resolved("MissingMetricRayGlobalControlStore")


# ================================================================ second held-out group
# Built before any change made for it (2026-12-08), from publishers not used above; scored
# once with the code as it was, then once after the changes; written to its own file
# (published_alerts_heldout2.jsonl) so the first set's ids and figures stay comparable.
AMBA = "Azure/azure-monitor-baseline-alerts:services/CognitiveServices/accounts/alerts.yaml"
AZ_METRICS = (
    "https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/"
    "microsoft-cognitiveservices-accounts-metrics"
)
ODH = "opendatahub-io/opendatahub-operator:internal/controller/components/{}"
LLMGUARD = "protectai/llm-guard:docs/{}"
NEMO_SDD = (
    "https://docs.nvidia.com/nemo/guardrails/latest/configure-guardrails/guardrail-catalog/"
    "third-party/presidio"
)
NEMO_RAILS = "https://docs.nvidia.com/nemo/guardrails/latest/about/rail-types.html"
VERTEX = "https://cloud.google.com/vertex-ai/docs/model-monitoring/overview"

HELDOUT2 = {
    "azure-monitor-baseline-alerts",
    "azure-openai-content-safety-metrics",
    "opendatahub-operator",
    "llm-guard",
    "nemo-guardrails",
    "vertex-ai-model-monitoring",
}

# Azure Monitor severities 0-4 as the PagerDuty integration maps them.
AZ_SEV = {0: "critical", 1: "error", 2: "warning", 3: "info", 4: "info"}


def azure_metric(
    group: str,
    source: str,
    metric: str,
    description: str,
    az_sev: int,
    operator: str,
    threshold: float,
    value: float,
    exp: dict[str, Any],
    resource: str = "aoai-prod-eastus",
) -> None:
    """An Azure Monitor metric alert (Common Alert Schema fields) delivered through the
    PagerDuty integration: the rule name as summary, the rule description in details."""
    details = {
        "alertRule": metric,
        "description": description,
        "severity": f"Sev{az_sev}",
        "signalType": "Metric",
        "monitorCondition": "Fired",
        "metricNamespace": "Microsoft.CognitiveServices/accounts",
        "metricName": metric,
        "operator": operator,
        "threshold": threshold,
        "metricValue": value,
        "windowSize": "PT5M",
    }
    pd(group, source, metric, metric, resource, AZ_SEV[az_sev], details, exp)


# ---- Azure Monitor Baseline Alerts, Microsoft.CognitiveServices/accounts (Azure OpenAI)
G = "azure-monitor-baseline-alerts"
R = ["aoai-prod-eastus"]
azure_metric(
    G,
    AMBA,
    "TotalErrors",
    "Total number of calls with error response (HTTP response code 4xx or 5xx).",
    2,
    "GreaterThan",
    5.0,
    37,
    expect("availability", "SEV2", R),
)
azure_metric(
    G,
    AMBA,
    "Latency",
    "Latency in milliseconds.",
    2,
    "GreaterThan",
    90.0,
    412,
    expect("performance", "SEV3", R),
)
azure_metric(
    G,
    AMBA,
    "SuccessRate",
    "Availability percentage with the following calculation: (Total Calls - Server Errors)/"
    "Total Calls. Server Errors include any HTTP responses >=500.",
    3,
    "LessThan",
    99.9,
    97.2,
    expect("availability", "SEV2", R),
)
azure_metric(
    G,
    AMBA,
    "ServerErrors",
    "Number of calls with service internal error (HTTP response code 5xx).",
    3,
    "GreaterThan",
    0.0,
    12,
    expect("availability", "SEV2", R),
)
azure_metric(
    G,
    AMBA,
    "TokenTransaction",
    "Number of Inference Tokens Processed on an OpenAI Model",
    2,
    "GreaterThan",
    180000.0,
    264310,
    expect("performance", "SEV3", R),
)
azure_metric(
    G,
    AMBA,
    "BlockedCalls",
    "Number of calls that exceeded rate or quota limit.",
    2,
    "GreaterThan",
    0.0,
    58,
    expect("availability", "SEV2", R),
)
azure_metric(
    G,
    AMBA,
    "AzureOpenAIProvisionedManagedUtilizationV2",
    "Utilization % for a provisoned-managed deployment, calculated as (PTUs consumed / PTUs "
    "deployed) x 100.",
    2,
    "GreaterThan",
    80,
    93,
    expect("performance", "SEV3", R),
)
azure_metric(
    G,
    AMBA,
    "AzureOpenAITimeToResponse",
    "Recommended latency (responsiveness) measure for streaming requests. Time in milliseconds.",
    2,
    "GreaterThan",
    200,
    1840,
    expect("performance", "SEV3", R),
)

# ---- Azure OpenAI "ContentSafety - Risks&Safety" metrics (documented metric, alert on it)
G = "azure-openai-content-safety-metrics"
azure_metric(
    G,
    AZ_METRICS,
    "RAIHarmfulRequests",
    "Harmful Volume Detected: Number of calls made to Azure OpenAI API and detected as "
    "harmful(both block model and annotate mode) by content filter applied over a period of "
    "time. You can add a filter or apply splitting by the following dimensions: "
    "ModelDeploymentName, ModelName and TextType.",
    2,
    "GreaterThan",
    50,
    212,
    expect("toxicity", "SEV2", R),
)
azure_metric(
    G,
    AZ_METRICS,
    "RAIRejectedRequests",
    "Blocked Volume: Number of calls made to Azure OpenAI API and rejected by content filter "
    "applied over a period of time. You can add a filter or apply splitting by the following "
    "dimensions: ModelDeploymentName, ModelName and TextType.",
    2,
    "GreaterThan",
    50,
    131,
    expect("toxicity", "SEV2", R),
)

# ---- Open Data Hub / OpenShift AI operator PrometheusRules (KServe, TrustyAI, MaaS)
G = "opendatahub-operator"
BURN = "High error budget burn for {i} (current value: {v} )."
am(
    G,
    ODH.format("kserve/monitoring/kserve-prometheusrules.tmpl.yaml"),
    "Kserve Controller Probe Success Burn Rate",
    {"severity": "critical", "instance": "kserve-controller-manager"},
    {
        "message": BURN.format(i="kserve-controller-manager", v="0.41"),
        "summary": "Kserve Controller Probe Success Burn Rate",
    },
    'sum(probe_success:burnrate5m{instance=~"kserve-controller-manager"}) by (instance) > '
    '(14.40 * (1-0.98000))\nand\nsum(probe_success:burnrate1h{instance=~"kserve-controller-'
    'manager"}) by (instance) > (14.40 * (1-0.98000))',
    expect("availability", "SEV1"),
)
am(
    G,
    ODH.format("trustyai/monitoring/trustyai-prometheusrules.tmpl.yaml"),
    "TrustyAI Controller Probe Success Burn Rate",
    {"severity": "warning", "instance": "trustyai-service-operator-controller-manager"},
    {
        "message": BURN.format(i="trustyai-service-operator-controller-manager", v="0.07"),
        "summary": "TrustyAI Controller Probe Success Burn Rate",
    },
    'sum(probe_success:burnrate2h{instance=~"trustyai-service-operator-controller-manager"}) '
    "by (instance) > (3.00 * (1-0.98000))\nand\nsum(probe_success:burnrate1d{instance=~"
    '"trustyai-service-operator-controller-manager"}) by (instance) > (3.00 * (1-0.98000))',
    expect("availability", "SEV2"),
)
MAAS = ODH.format("modelsasservice/monitoring/modelsasservice-prometheusrules.tmpl.yaml")
MAAS_L = {"component": "modelsasservice", "subsystem": "maas-controller"}
am(
    G,
    MAAS,
    "MaaSControllerHighReconcileErrorRate",
    {"severity": "warning", "controller": "maasmodelref", **MAAS_L},
    {
        "message": "Reconciliation error rate for controller maasmodelref is above 10% over "
        "the last 10 minutes.",
        "summary": "MaaS Controller high reconciliation error rate (>10%)",
    },
    '(sum by (controller) (rate(controller_runtime_reconcile_errors_total{job="maas-controller-'
    'metrics"}[10m])) / sum by (controller) (rate(controller_runtime_reconcile_total{job="maas-'
    'controller-metrics"}[10m]))) > 0.10',
    expect("availability", "SEV2"),
)
am(
    G,
    MAAS,
    "MaaSControllerSustainedReconcileErrors",
    {"severity": "critical", "controller": "maasmodelref", **MAAS_L},
    {
        "message": "Reconciliation error rate for controller maasmodelref is above 25% over "
        "the last 30 minutes. This indicates persistent controller failures that may require "
        "investigation.",
        "summary": "MaaS Controller sustained reconciliation errors (>25%)",
    },
    '(sum by (controller) (rate(controller_runtime_reconcile_errors_total{job="maas-controller-'
    'metrics"}[30m])) / sum by (controller) (rate(controller_runtime_reconcile_total{job="maas-'
    'controller-metrics"}[30m]))) > 0.25',
    expect("availability", "SEV1"),
)
am(
    G,
    MAAS,
    "MaaSControllerHighWorkQueueDepth",
    {"severity": "warning", "name": "maasmodelref", **MAAS_L},
    {
        "message": "Work queue maasmodelref depth is above 100 for at least 10 minutes. The "
        "controller may be falling behind on processing.",
        "summary": "MaaS Controller high work queue depth (>100)",
    },
    'max by (name) (workqueue_depth{job="maas-controller-metrics"}) > 100',
    expect("performance", "SEV3"),
)

# ---- LLM Guard scanners (the scanner's documented purpose quoted, as an LLM Guard API
# deployment reports invalid scans to a native webhook)
G = "llm-guard"
LG = ["chat-api"]


def llm_guard(
    doc: str, scanner: str, side: str, count: str, purpose: str, sev: str, exp: dict[str, Any]
) -> None:
    native(
        G,
        LLMGUARD.format(doc),
        f"LLMGuard{scanner}",
        f"LLM Guard {scanner} scanner: {count} {side} marked invalid",
        purpose,
        sev,
        LG,
        exp,
        labels={"scanner": scanner, "scanner_type": side.split(maxsplit=1)[0]},
    )


llm_guard(
    "input_scanners/secrets.md",
    "Secrets",
    "input prompts",
    "14",
    "This scanner diligently examines user inputs, ensuring that they don't carry any secrets "
    "before they are processed by the language model. It ensures that user prompts are "
    "meticulously scanned and any detected secrets are redacted before they are processed by "
    "the model.",
    "warning",
    expect(None, None),
)
llm_guard(
    "input_scanners/anonymize.md",
    "Anonymize",
    "input prompts",
    "31",
    "It meticulously inspects user prompts, ensuring that they are free of any sensitive "
    "information before being processed by the language model.",
    "warning",
    expect(None, None),
)
llm_guard(
    "output_scanners/sensitive.md",
    "Sensitive",
    "output responses",
    "3",
    "The Sensitive scanner actively scans the output from the language model, ensuring no "
    "Personal Identifiable Information (PII), secrets or sensitive data slips through.",
    "warning",
    expect("data_leak", "SEV1", LG),
)
llm_guard(
    "output_scanners/factual_consistency.md",
    "FactualConsistency",
    "output responses",
    "22",
    "This scanner is designed to assess if the given content contradicts or refutes a certain "
    "statement or prompt. It acts as a tool for ensuring the consistency and correctness of "
    "language model outputs, especially in contexts where logical contradictions can be "
    "problematic.",
    "warning",
    expect("hallucination", "SEV3", LG),
)
llm_guard(
    "output_scanners/bias.md",
    "Bias",
    "output responses",
    "9",
    "This scanner is designed to inspect the outputs generated by Language Learning Models "
    "(LLMs) to detect and evaluate potential biases. Its primary function is to ensure that "
    "LLM outputs remain neutral and don't exhibit unwanted or predefined biases.",
    "warning",
    expect("bias", "SEV3", LG),
)
llm_guard(
    "output_scanners/malicious_urls.md",
    "MaliciousURLs",
    "output responses",
    "4",
    "This scanner detects URLs in the output and analyzes them for harmfulness, such as "
    "detecting phishing websites.",
    "warning",
    expect("toxicity", "SEV2", LG),
)
llm_guard(
    "input_scanners/prompt_injection.md",
    "PromptInjection",
    "input prompts",
    "57",
    "It is specifically tailored to guard against crafty input manipulations targeting large "
    "language models (LLM). By identifying and mitigating such attempts, it ensures the LLM "
    "operates securely without succumbing to injection attacks.",
    "warning",
    expect("toxicity", "SEV2", LG),
)

# ---- NeMo Guardrails rails (the published flow names; what each rail type does quoted)
G = "nemo-guardrails"
NB = ["support-bot"]
native(
    G,
    NEMO_SDD,
    "NeMoMaskSensitiveDataOnInput",
    "Rail 'mask sensitive data on input' triggered 27 times",
    "Input rails apply guardrails before the LLM is called by validating and sanitizing user "
    "inputs. Sensitive data detection (Presidio) entities: PERSON, EMAIL_ADDRESS.",
    "warning",
    NB,
    expect(None, None),
)
native(
    G,
    NEMO_SDD,
    "NeMoDetectSensitiveDataOnOutput",
    "Rail 'detect sensitive data on output' triggered 6 times",
    "Output rails evaluate and post-process model responses, filtering, editing, or blocking "
    "unsafe or off-policy content before it reaches users. Sensitive data detection (Presidio) "
    "entities: PERSON, EMAIL_ADDRESS, CREDIT_CARD.",
    "warning",
    NB,
    expect("data_leak", "SEV1", NB),
)
native(
    G,
    NEMO_RAILS,
    "NeMoJailbreakRail",
    "Rail 'jailbreak detection heuristics' triggered 41 times",
    "Input rails apply guardrails before the LLM is called by validating and sanitizing user "
    "inputs. Jailbreak Protection: detect and block attempts to bypass safety measures.",
    "warning",
    NB,
    expect("toxicity", "SEV2", NB),
)

# ---- Vertex AI Model Monitoring (the documented anomaly types, as its alert reports them)
G = "vertex-ai-model-monitoring"
VX = ["churn-endpoint"]
native(
    G,
    VERTEX,
    "VertexTrainingServingSkew",
    "Vertex AI Model Monitoring: feature skew anomaly on endpoint churn-endpoint",
    "Training-serving skew occurs when the feature data distribution in production deviates "
    "from the feature data distribution used to train the model. Feature 'tenure': distance "
    "0.42 exceeds the alerting threshold 0.3.",
    "warning",
    VX,
    expect("performance", "SEV3", VX),
)
native(
    G,
    VERTEX,
    "VertexPredictionDrift",
    "Vertex AI Model Monitoring: prediction drift anomaly on endpoint churn-endpoint",
    "Prediction drift occurs when feature data distribution in production changes "
    "significantly over time. Feature 'monthly_charges': distance 0.27 exceeds the alerting "
    "threshold 0.15.",
    "warning",
    VX,
    expect("performance", "SEV3", VX),
)


def main() -> None:
    counts: dict[str, int] = {}
    first = [r for r in records if r["group"] not in HELDOUT2]
    second = [r for r in records if r["group"] in HELDOUT2]
    with OUT.open("w", encoding="utf-8") as f:
        for n, r in enumerate(first, 1):
            split = "heldout" if r["group"] in HELDOUT else "dev"
            counts[split] = counts.get(split, 0) + 1
            f.write(json.dumps(_row(f"pub-{n:03d}", split, r), ensure_ascii=False) + "\n")
    with OUT2.open("w", encoding="utf-8") as f:
        for n, r in enumerate(second, 1):
            counts["heldout2"] = counts.get("heldout2", 0) + 1
            f.write(json.dumps(_row(f"pub2-{n:03d}", "heldout2", r), ensure_ascii=False) + "\n")
    print(f"{len(first)} alerts -> {OUT}, {len(second)} -> {OUT2} {counts}")


def _row(id_: str, split: str, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": id_,
        "source_group": r["group"],
        "source": r["source"],
        "split": split,
        "payload": r["payload"],
        "expected": r["expected"],
    }


if __name__ == "__main__":
    main()
