"""Sends access-log lines to `meshlog serve` with the official OpenTelemetry Python
SDK and OTLP exporter, over HTTP (`POST /v1/logs`, protobuf) or gRPC
(`LogsService/Export`), gzip-compressed, shaped as Envoy's OpenTelemetry access
logger sends them under Istio's `envoyOtelAls` provider: the line as a string body
ending in a newline, the provider's labels as string attributes (`cluster`, `pod`,
`namespace`), Envoy's start time as the record time.

    python3 otlp_send.py http|grpc ENDPOINT LINES_FILE [RESOURCE_CLUSTER]

ENDPOINT is the URL of /v1/logs (http) or host:port (grpc). With RESOURCE_CLUSTER,
the resource also carries `k8s.cluster.name` (as an OpenTelemetry Collector's
k8sattributes processor adds it). Prints the number sent.
"""
import sys

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource


def exporter(protocol, endpoint):
    if protocol == "http":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        return OTLPLogExporter(endpoint=endpoint, compression=Compression.Gzip, timeout=30)
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

    return OTLPLogExporter(endpoint=endpoint, insecure=True, compression=grpc.Compression.Gzip,
                           timeout=30)


protocol, endpoint, path = sys.argv[1], sys.argv[2], sys.argv[3]
attributes = {"log_name": "otel_envoy_accesslog"}
if len(sys.argv) > 4:
    attributes["k8s.cluster.name"] = sys.argv[4]
provider = LoggerProvider(resource=Resource(attributes), shutdown_on_exit=False)
# Batches of many records per request, as Envoy flushes its buffer.
processor = BatchLogRecordProcessor(exporter(protocol, endpoint), max_export_batch_size=50)
provider.add_log_record_processor(processor)
logger = provider.get_logger("envoy.access_loggers.open_telemetry")
sent = 0
with open(path, encoding="utf-8") as lines:
    for line in lines:
        labels = {"cluster": "cluster1", "pod": "istio-ingressgateway-7d4f", "namespace": "istio-system"}
        logger.emit(body=line if line.endswith("\n") else line + "\n", attributes=labels,
                    severity_number=SeverityNumber.UNSPECIFIED)
        sent += 1
if not provider.force_flush(30_000):
    sys.exit("the exporter did not flush within 30 s")
provider.shutdown()
print(sent)
