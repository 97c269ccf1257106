"""The account's devices through the API filter (``GET /v1/devices``)."""


def make_folder(client, name, device):
    resp = client.post('/v1/folder', {'name': name, 'parent': 0},
                       headers={'X-StackSync-Device': device})
    assert resp.status_int == 201, resp.body
    return resp.json


def test_devices_name_the_device_of_an_item(alice, bob):
    made = make_folder(alice, 'photos', 'laptop')
    make_folder(alice, 'music', 'phone')
    make_folder(bob, 'films', 'desktop')
    resp = alice.get('/v1/devices')
    assert resp.status_int == 200
    names = {device['id']: device['name'] for device in resp.json}
    assert sorted(names.values()) == ['laptop', 'phone']
    assert names[made['device']] == 'laptop'


def test_a_user_without_devices_has_an_empty_list(bob):
    resp = bob.get('/v1/devices')
    assert resp.status_int == 200 and resp.json == []
