"""Small builders the metadata tests share."""

import dataclasses
import hashlib


def content(data=b'hello'):
    """Keyword arguments describing ``data`` as a one-chunk file."""
    digest = hashlib.sha256(data).hexdigest()
    return {'size': len(data), 'content_hash': digest,
            'chunks': ['chk-%s' % digest]}


@dataclasses.dataclass
class Person:
    """A user with their private workspace and one device."""

    id: int
    name: str
    workspace: int
    device: int


def person(service, name, **kwargs):
    user = service.create_user(name, **kwargs)
    workspace = service.get_workspaces(user['id'])[0]['id']
    device = service.get_or_create_device(user['id'], name + "'s laptop")
    return Person(user['id'], name, workspace, device['id'])


def new_file(service, who, name, data=b'hello', parent=None):
    return service.create_file(who.id, who.workspace, parent, name,
                               device_id=who.device, **content(data))
