import pytest

from tests.exchange_helpers import pair


@pytest.fixture
def second_store_url(request, tmp_path):
    if "postgres" in request.node.callspec.id if hasattr(request.node, "callspec") else False:
        return request.getfixturevalue("pg_url_second")
    return f"sqlite:///{tmp_path / 'jp.db'}"


@pytest.fixture
def pg_url_second(pg_ready):
    import uuid

    import psycopg

    from tests.conftest import PG_DSN

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{PG_DSN}?schema={schema}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def nodes(store_url, second_store_url, tmp_path, clock):
    no, jp = pair(store_url, second_store_url, tmp_path, clock)
    yield no, jp
    for side in (no, jp):
        side.api.close()
        side.node.close()
