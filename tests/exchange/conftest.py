import pytest

from tests.exchange_helpers import pair


@pytest.fixture
def second_store_url(request, tmp_path):
    if "postgres" in request.node.callspec.id:
        return request.getfixturevalue("pg_url_second")
    return f"sqlite:///{tmp_path / 'jp.db'}"


@pytest.fixture
def nodes(store_url, second_store_url, tmp_path, clock):
    no, jp = pair(store_url, second_store_url, tmp_path, clock)
    yield no, jp
    for side in (no, jp):
        side.api.close()
        side.node.close()
