"""Produces each line of a file as one Kafka message (keyed by its line number, so
spread over the partitions) with confluent-kafka, and waits until every one is
acknowledged. Prints the number produced.

    python3 produce.py BOOTSTRAP TOPIC FILE
"""
import sys

from confluent_kafka import Producer

bootstrap, topic, path = sys.argv[1:4]
producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "acks": "all"})
failed = []


def delivered(error, _message):
    if error is not None:
        failed.append(error)


produced = 0
with open(path, "rb") as lines:
    for number, line in enumerate(lines):
        while True:
            try:
                producer.produce(topic, line.rstrip(b"\n"), str(number).encode(), on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        produced += 1
        if produced % 10000 == 0:
            producer.poll(0)
if producer.flush(120) > 0 or failed:
    sys.exit(f"not every message was acknowledged: {failed[:3]}")
print(produced)
