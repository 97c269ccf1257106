"""Chunk codecs: names, compression, encryption, and every refusal."""

import os

import pytest

from stacksync_swift import chunking
from stacksync_swift.client import codec

TEXT = b'the quick brown fox jumps over the lazy dog\n' * 2000
NOISE = os.urandom(300 * 1024)


@pytest.fixture(scope='module')
def master():
    return codec.derive_master_key('correct horse',
                                   codec.workspace_salt('ws-abc'))


@pytest.fixture
def sealed(master):
    return codec.EncryptedCodec(master, encrypt_names=True)


# -- plain --

def test_plain_name_is_the_servers_name():
    name, _body = codec.PlainCodec().encode(TEXT)
    assert name == chunking.chunk_name(TEXT)


def test_plain_compresses_text_and_says_so():
    name, body = codec.PlainCodec().encode(TEXT)
    assert body[:4] == codec.ZSTD_MAGIC and len(body) < len(TEXT) // 10
    assert codec.wire_encoding(name, body) == 'zstd'
    assert codec.PlainCodec().decode(name, body) == TEXT


def test_plain_sends_noise_as_it_is():
    name, body = codec.PlainCodec().encode(NOISE)
    assert body == NOISE
    assert codec.wire_encoding(name, body) is None
    assert codec.PlainCodec().decode(name, body) == NOISE


def test_plain_decodes_the_plaintext_the_server_stores():
    name, _body = codec.PlainCodec().encode(TEXT)
    assert codec.PlainCodec().decode(name, TEXT) == TEXT


def test_a_zst_file_chunk_is_not_mistaken_for_a_compressed_body():
    data = codec.ZSTD_MAGIC + NOISE
    name, body = codec.PlainCodec().encode(data)
    assert body == data and codec.wire_encoding(name, body) is None
    assert codec.PlainCodec().decode(name, body) == data


def test_empty_chunk():
    name, body = codec.PlainCodec().encode(b'')
    assert body == b'' and codec.PlainCodec().decode(name, body) == b''


@pytest.mark.parametrize('body', [b'garbage', codec.ZSTD_MAGIC + b'xx'])
def test_plain_refuses_a_body_that_does_not_match(body):
    name, _ = codec.PlainCodec().encode(TEXT)
    with pytest.raises(codec.CorruptChunk):
        codec.PlainCodec().decode(name, body)


def test_plain_refuses_another_chunks_frame():
    name, _ = codec.PlainCodec().encode(TEXT)
    _, other = codec.PlainCodec().encode(TEXT + b'!')
    with pytest.raises(codec.CorruptChunk):
        codec.PlainCodec().decode(name, other)


def test_decompression_is_bounded():
    bomb = codec.compress(b'\0' * (chunking.MAX_SIZE + 1))
    with pytest.raises(codec.CorruptChunk, match='more than'):
        codec.decompress(bomb)


def test_plain_names_are_identity():
    assert codec.PlainCodec().encrypt_name('a.txt') == 'a.txt'
    assert codec.PlainCodec().decrypt_name('a.txt') == 'a.txt'


# -- encrypted --

def test_encrypted_round_trip(sealed):
    for data in (TEXT, NOISE, b''):
        name, body = sealed.encode(data)
        assert chunking.is_chunk_name(name)
        assert sealed.decode(name, body) == data


def test_encrypted_name_is_keyed_not_a_content_hash(sealed, master):
    name, _ = sealed.encode(TEXT)
    assert name != chunking.chunk_name(TEXT)
    assert name == sealed.encode(TEXT)[0]          # dedup works
    other = codec.EncryptedCodec(codec.derive_master_key(
        'correct horse', codec.workspace_salt('ws-other')))
    assert other.encode(TEXT)[0] != name           # salt per workspace


def test_encrypted_body_reveals_nothing(sealed):
    name, body = sealed.encode(TEXT)
    assert body[:1] == codec.ENCRYPTED_VERSION
    assert b'quick brown' not in body
    assert codec.wire_encoding(name, body) is None
    # compressed before sealing: the ciphertext is small
    assert len(body) < len(TEXT) // 10


def test_two_encodings_use_fresh_nonces(sealed):
    assert sealed.encode(TEXT)[1] != sealed.encode(TEXT)[1]


def test_a_wrong_passphrase_cannot_decrypt(sealed):
    name, body = sealed.encode(TEXT)
    wrong = codec.EncryptedCodec.from_passphrase('wrong', 'ws-abc')
    with pytest.raises(codec.CorruptChunk, match='wrong passphrase'):
        wrong.decode(name, body)


def test_a_tampered_body_is_refused(sealed):
    name, body = sealed.encode(TEXT)
    flipped = body[:-1] + bytes([body[-1] ^ 1])
    with pytest.raises(codec.CorruptChunk):
        sealed.decode(name, flipped)


def test_a_body_under_another_name_is_refused(sealed):
    name, _ = sealed.encode(TEXT)
    _, other = sealed.encode(NOISE)
    with pytest.raises(codec.CorruptChunk):
        sealed.decode(name, other)


def test_a_plain_body_in_an_encrypted_workspace_is_refused(sealed):
    with pytest.raises(codec.CorruptChunk, match='not sealed'):
        sealed.decode(chunking.chunk_name(TEXT), TEXT)


def test_file_names_are_deterministic_and_opaque(sealed):
    stored = sealed.encrypt_name('report.odt')
    assert stored == sealed.encrypt_name('report.odt')
    assert 'report' not in stored and '/' not in stored
    assert sealed.decrypt_name(stored) == 'report.odt'
    with pytest.raises(codec.CorruptChunk):
        sealed.decrypt_name('not-a-sealed-name')


def test_file_names_stay_clear_unless_asked(master):
    clear = codec.EncryptedCodec(master)
    assert clear.encrypt_name('report.odt') == 'report.odt'


def test_keys_need_a_passphrase_and_32_bytes():
    with pytest.raises(ValueError):
        codec.derive_master_key('', b'salt')
    with pytest.raises(ValueError):
        codec.EncryptedCodec(b'short')


def test_content_hashes(sealed):
    digest = chunking.chunk_name(TEXT)[4:]
    assert codec.PlainCodec().content_hash(digest) == digest
    keyed = sealed.content_hash(digest)
    assert keyed != digest and len(keyed) == 64
    assert keyed == sealed.content_hash(digest)


def test_file_names_are_sealed_in_nfc(sealed):
    composed, decomposed = '\u00dcber.txt', 'U\u0308ber.txt'
    assert sealed.encrypt_name(decomposed) == sealed.encrypt_name(composed)
    assert sealed.decrypt_name(sealed.encrypt_name(decomposed)) == composed


# -- the passphrase verifier --

def test_the_verifier_opens_with_the_right_key_and_keeps_settings(master):
    verifier = codec.Verifier(master, 'ws-abc')
    assert codec.chunking.is_chunk_name(verifier.name)
    assert verifier.name == codec.verifier_chunk_name('ws-abc')
    body = verifier.seal(encrypt_names=True)
    assert b'encrypt_names' not in body
    assert verifier.open(body) == {'encrypt_names': True}
    again = codec.Verifier(master, 'ws-abc')
    assert again.open(verifier.seal(False)) == {'encrypt_names': False}


def test_the_verifier_refuses_a_wrong_passphrase(master):
    body = codec.Verifier(master, 'ws-abc').seal(True)
    wrong = codec.derive_master_key('wrong horse',
                                    codec.workspace_salt('ws-abc'))
    with pytest.raises(codec.WrongPassphrase, match='passphrase is wrong'):
        codec.Verifier(wrong, 'ws-abc').open(body)
    assert codec.WrongPassphrase.hint


def test_a_verifier_is_bound_to_its_workspace(master):
    body = codec.Verifier(master, 'ws-abc').seal(True)
    other = codec.Verifier(master, 'ws-def')
    assert other.name != codec.verifier_chunk_name('ws-abc')
    with pytest.raises(codec.WrongPassphrase):
        other.open(body)


def test_something_else_under_the_verifier_name_is_damage(master):
    verifier = codec.Verifier(master, 'ws-abc')
    with pytest.raises(codec.CorruptChunk, match='damaged'):
        verifier.open(b'plain text where a verifier should be')
    with pytest.raises(codec.CorruptChunk, match='damaged'):
        verifier.open(b'\x01short')
    assert codec.CorruptChunk.hint


# -- the key container, and checking a key against stored chunks --

def test_the_key_container_is_the_workspaces_own_by_default():
    workspace = {'id': 3, 'container': 'ws-own', 'key_container': 'ws-own'}
    assert codec.key_container(workspace) == 'ws-own'


def test_a_shared_folder_keys_with_the_container_it_came_from(master):
    shared = {'id': 4, 'container': 'ws-new', 'key_container': 'ws-abc'}
    assert codec.key_container(shared) == 'ws-abc'
    # The passphrase then derives the key its copied chunks were sealed
    # with, in the workspace they came from.
    again = codec.derive_master_key(
        'correct horse', codec.workspace_salt(codec.key_container(shared)))
    assert again == master


def test_a_server_without_key_containers_keys_with_the_container():
    assert codec.key_container({'id': 3, 'container': 'ws-own'}) == 'ws-own'
    assert codec.key_container({'id': 3, 'container': 'ws-own',
                                'key_container': None}) == 'ws-own'


def test_the_sealing_key_passes_the_check(sealed, master):
    name, body = sealed.encode(TEXT)
    codec.EncryptedCodec(master).check_key(name, body)


def test_another_key_fails_the_check_as_a_wrong_passphrase(sealed):
    name, body = sealed.encode(TEXT)
    other = codec.EncryptedCodec(codec.derive_master_key(
        'correct horse', codec.workspace_salt('ws-new')))
    with pytest.raises(codec.WrongPassphrase, match='passphrase is wrong'):
        other.check_key(name, body)


def test_a_body_that_is_no_sealed_chunk_fails_the_check_as_damage(sealed):
    with pytest.raises(codec.CorruptChunk):
        sealed.check_key(chunking.chunk_name(TEXT), TEXT)
    with pytest.raises(codec.CorruptChunk):
        sealed.check_key('chk-x', b'\x01short')


def test_only_names_sealed_with_the_key_open(sealed, master):
    stored = sealed.encrypt_name('plans.txt')
    names_off = codec.EncryptedCodec(master)
    assert names_off.opens_name(stored)
    assert not names_off.opens_name('plans.txt')
    assert not names_off.opens_name('AAAAAAAAAAAAAAAAAAAAAAAAAAAA')
    other = codec.EncryptedCodec(codec.derive_master_key(
        'wrong horse', codec.workspace_salt('ws-abc')), encrypt_names=True)
    assert not other.opens_name(stored)
