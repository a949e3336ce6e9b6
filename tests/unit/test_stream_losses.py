"""A loss callback that raises doesn't swallow the losses it didn't get to see."""
import pytest

from bloop.stream.shard import Loss
from bloop.stream.stream import Stream


class Losses:
    def __init__(self, losses):
        self.losses = list(losses)

    def take_losses(self):
        taken, self.losses = self.losses, []
        return taken

    def return_losses(self, losses):
        self.losses[:0] = losses


def test_losses_after_a_failing_callback_are_reported_next_time():
    stream = Stream.__new__(Stream)
    stream._coordinator = Losses([Loss("shard-a", "1", "5", "trimmed"), Loss("shard-b", None, "9", "trimmed")])
    seen = []

    def callback(loss):
        seen.append(loss.shard_id)
        if len(seen) == 1:
            raise RuntimeError("handler failed")

    stream.on_loss = callback
    with pytest.raises(RuntimeError):
        stream._report_losses()
    stream._report_losses()
    assert seen == ["shard-a", "shard-b"]
