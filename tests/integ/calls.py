"""Count the HTTP requests boto3 clients send, with botocore's event hooks ("before any call" checks)."""
import contextlib


@contextlib.contextmanager
def counting_requests(*clients):
    """Yield a list that collects the operation name of every request the clients send while open."""
    sent = []

    def record(request, **kwargs):
        sent.append(kwargs.get("event_name", "").rsplit(".", 1)[-1] or request.url)

    for client in clients:
        client.meta.events.register("before-send.*", record)
    try:
        yield sent
    finally:
        for client in clients:
            client.meta.events.unregister("before-send.*", record)
