import pytest

from tests.factories import client_for, configure, make_node


@pytest.fixture
def node(store_url, tmp_path, clock):
    node = make_node(store_url, tmp_path, clock)
    yield node
    node.close()


@pytest.fixture
def who(node):
    return configure(node)


@pytest.fixture
def api(node, who):
    with client_for(node) as client:
        yield client
