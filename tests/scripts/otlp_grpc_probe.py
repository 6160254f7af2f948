"""Calls `LogsService/Export` of `meshlog serve` once with grpcio and the OTLP
stubs of the `opentelemetry-proto` package, and prints what came back as one JSON
object: `code` (the gRPC status name), `rejected` and `message` (partial success),
or `details` (the error's message).

    python3 otlp_grpc_probe.py HOST:PORT CLUSTER_ATTRIBUTE_VALUE LINE [LINE ...]

Each LINE is a record's string body; CLUSTER_ATTRIBUTE_VALUE ("-" for none) is the
resource's `k8s.cluster.name`. Metadata comes from the environment: MESHLOG_TOKEN
(`authorization: Bearer …`) and MESHLOG_SOURCE_CLUSTER (`x-meshlog-source-cluster`).
"""
import json
import os
import sys

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

target, cluster, lines = sys.argv[1], sys.argv[2], sys.argv[3:]
resource = resource_pb2.Resource()
if cluster != "-":
    resource.attributes.append(common_pb2.KeyValue(
        key="k8s.cluster.name", value=common_pb2.AnyValue(string_value=cluster)))
records = [logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value=line + "\n"))
           for line in lines]
request = logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
    resource=resource, scope_logs=[logs_pb2.ScopeLogs(log_records=records)])])
metadata = []
if os.environ.get("MESHLOG_TOKEN"):
    metadata.append(("authorization", "Bearer " + os.environ["MESHLOG_TOKEN"]))
if os.environ.get("MESHLOG_SOURCE_CLUSTER"):
    metadata.append(("x-meshlog-source-cluster", os.environ["MESHLOG_SOURCE_CLUSTER"]))
with grpc.insecure_channel(target) as channel:
    stub = logs_service_pb2_grpc.LogsServiceStub(channel)
    try:
        answer = stub.Export(request, metadata=metadata, timeout=30,
                             compression=grpc.Compression.Gzip)
        print(json.dumps({"code": "OK",
                          "rejected": answer.partial_success.rejected_log_records,
                          "message": answer.partial_success.error_message}))
    except grpc.RpcError as error:
        print(json.dumps({"code": error.code().name, "details": error.details()}))
