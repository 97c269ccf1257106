import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stacksync_swift.metadata import names
from stacksync_swift.metadata.errors import BadRequest
from stacksync_swift.metadata.errors import InvalidName

WHEN = datetime.datetime(2024, 3, 9, 7, 5, 1)


@pytest.mark.parametrize('name', [
    'report.pdf', '.bashrc', 'a', 'with space', 'ünïcödé', '...', 'a..b',
    '日本語.txt', 'x' * 255, 'é' * 127])
def test_valid_names_pass_unchanged(name):
    assert names.normalize_name(name) == name
    assert names.is_valid_name(name)


@pytest.mark.parametrize('name', [
    '', '.', '..', 'a/b', '/', 'nul\x00', 'tab\there', 'new\nline', 'del\x7f',
    'x' * 256, 'é' * 128, '\ud800', None, 3, b'bytes'])
def test_invalid_names_are_refused(name):
    with pytest.raises(InvalidName):
        names.normalize_name(name)
    assert not names.is_valid_name(name)


def test_invalid_name_is_a_bad_request_and_a_value_error():
    assert issubclass(InvalidName, BadRequest)
    assert issubclass(InvalidName, ValueError)


def test_names_are_normalised_to_nfc():
    decomposed = 'Cafe\u0301'
    assert names.normalize_name(decomposed) == 'Caf\u00e9'


def test_length_limit_counts_utf8_bytes():
    assert names.normalize_name('€' * 85)  # 255 bytes
    with pytest.raises(InvalidName, match='255 bytes'):
        names.normalize_name('€' * 86)


def test_conflicted_copy_name_format():
    assert names.conflicted_copy_name('report.pdf', 'laptop', WHEN) == \
        "report (laptop's conflicted copy 2024-03-09 07-05-01).pdf"


def test_conflicted_copy_name_without_extension_and_dotfiles():
    assert names.conflicted_copy_name('Makefile', 'bob', WHEN) == \
        "Makefile (bob's conflicted copy 2024-03-09 07-05-01)"
    assert names.conflicted_copy_name('.bashrc', 'bob', WHEN) == \
        ".bashrc (bob's conflicted copy 2024-03-09 07-05-01)"


def test_conflicted_copy_name_keeps_only_the_last_extension():
    assert names.conflicted_copy_name('a.tar.gz', 'bob', WHEN) == \
        "a.tar (bob's conflicted copy 2024-03-09 07-05-01).gz"


def test_conflicted_copy_name_defaults_to_now_in_utc():
    name = names.conflicted_copy_name('a.txt', 'bob')
    year = datetime.datetime.now(datetime.timezone.utc).year
    assert name.startswith("a (bob's conflicted copy %d-" % year)


def test_conflicted_copy_name_cleans_who():
    assert names.conflicted_copy_name('a', 'x/y\x00z', WHEN) == \
        "a (xyz's conflicted copy 2024-03-09 07-05-01)"
    assert "(unknown's" in names.conflicted_copy_name('a', '/', WHEN)


def test_conflicted_copy_name_shortens_the_stem_of_long_names():
    long_name = 'é' * 120 + '.txt'
    copy = names.conflicted_copy_name(long_name, 'bob', WHEN)
    assert copy.endswith("(bob's conflicted copy 2024-03-09 07-05-01).txt")
    assert len(copy.encode('utf-8')) <= names.MAX_NAME_BYTES
    assert copy.startswith('é')


def test_conflicted_copy_name_with_a_huge_extension():
    copy = names.conflicted_copy_name('a.' + 'x' * 250, 'bob', WHEN)
    assert names.is_valid_name(copy)
    assert "(bob's conflicted copy" in copy


def test_conflicted_copy_name_refuses_invalid_names():
    with pytest.raises(InvalidName):
        names.conflicted_copy_name('a/b', 'bob', WHEN)


@given(name=st.text(min_size=1, max_size=300), who=st.text(max_size=100))
def test_conflicted_copy_of_any_valid_name_is_valid_and_different(name,
                                                                  who):
    if not names.is_valid_name(name):
        return
    copy = names.conflicted_copy_name(name, who, WHEN)
    assert names.is_valid_name(copy)
    assert copy != names.normalize_name(name)
    assert "'s conflicted copy 2024-03-09 07-05-01)" in copy
