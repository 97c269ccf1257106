from stacksync_swift import config
from stacksync_swift import events


class FakeMetadata:
    def __init__(self, cursors):
        self.cursors = list(cursors)

    def get_workspace(self, user_id, workspace_id):
        cursor = self.cursors.pop(0) if len(self.cursors) > 1 \
            else self.cursors[0]
        return {'id': workspace_id, 'cursor': cursor}


class Services:
    def __init__(self, metadata):
        self.metadata = metadata


class Clock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def hub(cursors, clock):
    return events.EventHub(config.Settings(), Services(FakeMetadata(cursors)),
                           clock=clock, sleep=clock.sleep)


def test_wait_returns_as_soon_as_the_workspace_moves():
    clock = Clock()
    assert hub([5, 5, 6], clock).wait(1, 2, cursor=5, timeout=30) == 6
    assert len(clock.slept) == 2


def test_wait_gives_up_at_the_timeout():
    clock = Clock()
    assert hub([5], clock).wait(1, 2, cursor=5, timeout=1) == 5
    assert abs(sum(clock.slept) - 1) < 1e-9


def test_wait_returns_at_once_when_already_past():
    clock = Clock()
    assert hub([9], clock).wait(1, 2, cursor=5, timeout=30) == 9
    assert clock.slept == []
