"""The backend API client against the fake API, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from services.fakes.api import FakeApi
from services.fakes.redis_server import free_port
from shared.api import ApiBadResponse, ApiClient, ApiForbidden, ApiUnavailable
from shared.schemas import NewUser
from shared.settings import Secret

KEY = "internal-key-s3cr3t"
ADMIN, ALICE, STRANGER = 1001, 1002, 6666


@pytest.fixture
async def client(fake_api: FakeApi) -> AsyncIterator[ApiClient]:
    async with ApiClient(fake_api.url, Secret(KEY), timeout=1.0) as api:
        yield api


@pytest.fixture
def people(fake_api: FakeApi) -> FakeApi:
    fake_api.add_user(ADMIN, username="root", is_admin=True)
    fake_api.add_user(ALICE, username="alice", first_name="Alice")
    return fake_api


# --- find_user ---------------------------------------------------------------------


async def test_find_user_returns_the_user_with_that_telegram_id(
    people: FakeApi, client: ApiClient
) -> None:
    user = await client.find_user(ALICE)

    assert user is not None
    assert (user.telegram_id, user.username, user.is_admin) == (ALICE, "alice", False)
    assert people.requests[-1].query == {"telegram_id": str(ALICE)}


async def test_find_user_returns_none_when_the_api_answers_404(
    people: FakeApi, client: ApiClient
) -> None:
    assert await client.find_user(STRANGER) is None
    assert people.requests[-1].path == "/api/users/"


async def test_a_stranger_is_not_let_in_when_the_api_returns_every_user(
    people: FakeApi, client: ApiClient
) -> None:
    people.users_query_ignored = True

    assert await client.find_user(STRANGER) is None


async def test_the_matching_user_is_picked_out_of_an_answer_with_every_user(
    people: FakeApi, client: ApiClient
) -> None:
    people.users_query_ignored = True

    user = await client.find_user(ALICE)

    assert user is not None
    assert user.username == "alice"


async def test_a_single_user_object_answer_is_understood(
    people: FakeApi, client: ApiClient
) -> None:
    people.users_as_object = True

    user = await client.find_user(ADMIN)

    assert user is not None
    assert user.is_admin


async def test_a_single_object_for_someone_else_does_not_let_a_stranger_in(
    fake_api: FakeApi, client: ApiClient
) -> None:
    fake_api.respond_with("/api/users", {"id": 1, "telegram_id": ALICE, "is_admin": True})

    assert await client.find_user(STRANGER) is None


async def test_a_malformed_user_answer_is_a_bad_response_not_a_rejection(
    fake_api: FakeApi, client: ApiClient
) -> None:
    fake_api.respond_with("/api/users", [{"telegram_id": ALICE}])  # no "id"

    with pytest.raises(ApiBadResponse):
        await client.find_user(ALICE)


async def test_a_telegram_id_sent_as_a_string_still_matches(
    fake_api: FakeApi, client: ApiClient
) -> None:
    fake_api.respond_with("/api/users", [{"id": "3", "telegram_id": str(ALICE)}])

    user = await client.find_user(ALICE)

    assert user is not None
    assert (user.id, user.telegram_id) == (3, ALICE)


# --- headers and redirects -------------------------------------------------------


async def test_every_collection_is_asked_at_its_slashed_path_and_never_redirected(
    people: FakeApi, client: ApiClient
) -> None:
    await client.find_user(ALICE)
    await client.list_users()
    await client.list_projects(ALICE)
    await client.list_servers(ADMIN)
    await client.list_tasks(ALICE)

    assert [(r.path, r.query) for r in people.requests] == [
        ("/api/users/", {"telegram_id": str(ALICE)}),
        ("/api/users/", {}),
        ("/api/projects/", {}),
        ("/api/servers/", {}),
        ("/api/tasks/", {"status": "running"}),
    ]


async def test_a_307_is_followed_with_both_headers_on_the_final_request(
    fake_api: FakeApi, client: ApiClient
) -> None:
    fake_api.collections_unslashed = True
    fake_api.add_project(ALICE, "shop")

    projects = await client.list_projects(ALICE)

    assert [p.name for p in projects] == ["shop"]
    first, final = fake_api.requests
    assert (first.path, final.path) == ("/api/projects/", "/api/projects")
    assert final.headers["X-Telegram-ID"] == str(ALICE)
    assert final.headers["X-Internal-Key"] == KEY


async def test_the_query_survives_the_redirect(fake_api: FakeApi, client: ApiClient) -> None:
    fake_api.collections_unslashed = True
    fake_api.add_task(ALICE, status="running")
    fake_api.add_task(ALICE, status="completed")

    tasks = await client.list_tasks(ALICE)

    assert [t.status for t in tasks] == ["running"]
    assert fake_api.requests_to("/api/tasks")[0].query == {"status": "running"}


async def test_a_redirect_to_another_origin_is_not_followed_and_the_key_stays_home(
    fake_api: FakeApi, client: ApiClient
) -> None:
    fake_api.collections_unslashed = True
    async with FakeApi() as elsewhere:
        fake_api.redirect_origin = elsewhere.url

        with pytest.raises(ApiBadResponse) as caught:
            await client.list_projects(ALICE)

        assert elsewhere.requests == []
        assert elsewhere.url not in str(caught.value)


async def test_endless_redirects_end_in_a_bad_response(
    fake_api: FakeApi, client: ApiClient
) -> None:
    fake_api.respond_with("/api/projects/", b"", status=307, headers={"Location": "/api/projects/"})

    with pytest.raises(ApiBadResponse):
        await client.list_projects(ALICE)
    assert len(fake_api.requests) == 4  # the first request and three hops


async def test_no_internal_key_header_is_sent_when_none_is_configured(
    people: FakeApi,
) -> None:
    async with ApiClient(people.url, None) as client:
        await client.find_user(ALICE)

    assert all("X-Internal-Key" not in r.headers for r in people.requests)


async def test_the_list_of_all_users_is_not_asked_on_behalf_of_anyone(
    people: FakeApi, client: ApiClient
) -> None:
    users = await client.list_users()

    assert [u.telegram_id for u in users] == [ADMIN, ALICE]
    assert all("X-Telegram-ID" not in r.headers for r in people.requests)


# --- errors ------------------------------------------------------------------------


async def test_servers_for_a_non_admin_are_api_forbidden(
    people: FakeApi, client: ApiClient
) -> None:
    people.add_server("srv-1")

    with pytest.raises(ApiForbidden):
        await client.list_servers(ALICE)
    assert [s.handle for s in await client.list_servers(ADMIN)] == ["srv-1"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_is_api_unavailable(fake_api: FakeApi, client: ApiClient, status: int) -> None:
    fake_api.fail_with = status

    with pytest.raises(ApiUnavailable) as caught:
        await client.list_projects(ALICE)
    assert caught.value.status == status


async def test_a_reset_connection_is_api_unavailable(fake_api: FakeApi, client: ApiClient) -> None:
    fake_api.down = True

    with pytest.raises(ApiUnavailable):
        await client.find_user(ALICE)


async def test_a_refused_connection_is_api_unavailable() -> None:
    async with ApiClient(f"http://127.0.0.1:{free_port()}", Secret(KEY)) as client:
        with pytest.raises(ApiUnavailable):
            await client.find_user(ALICE)


async def test_a_slow_api_is_api_unavailable_after_the_timeout(fake_api: FakeApi) -> None:
    fake_api.slow = 30

    async with ApiClient(fake_api.url, Secret(KEY), timeout=0.2) as client:
        with pytest.raises(ApiUnavailable):
            await client.list_tasks(ALICE)


async def test_a_garbage_body_is_a_bad_response(fake_api: FakeApi, client: ApiClient) -> None:
    fake_api.respond_with("/api/projects", "<html>oops</html>", content_type="text/html")
    fake_api.respond_with("/api/users", b"\xff\xfe not json")

    with pytest.raises(ApiBadResponse):
        await client.list_projects(ALICE)
    with pytest.raises(ApiBadResponse):
        await client.find_user(ALICE)


async def test_an_object_where_a_list_is_expected_is_a_bad_response(
    fake_api: FakeApi, client: ApiClient
) -> None:
    fake_api.respond_with("/api/tasks", {"items": []})

    with pytest.raises(ApiBadResponse):
        await client.list_tasks(ALICE)


async def test_a_401_is_a_bad_response_that_does_not_reveal_the_key(fake_api: FakeApi) -> None:
    fake_api.require_internal_key = "the-right-one"

    async with ApiClient(fake_api.url, Secret(KEY)) as client:
        with pytest.raises(ApiBadResponse) as caught:
            await client.list_projects(ALICE)

    assert caught.value.status == 401
    assert KEY not in str(caught.value)
    assert fake_api.url not in str(caught.value)


async def test_the_right_internal_key_is_accepted(fake_api: FakeApi, client: ApiClient) -> None:
    fake_api.require_internal_key = KEY

    assert await client.list_projects(ALICE) == []


# --- lenient decoding --------------------------------------------------------------


async def test_unknown_fields_and_both_timestamp_forms_are_accepted(
    people: FakeApi, client: ApiClient
) -> None:
    people.add_task(ALICE, status="running", surprise={"nested": [1, 2]})

    user = await client.find_user(ALICE)
    (task,) = await client.list_tasks(ALICE)

    assert user is not None  # its created_at is naive, and it has unknown fields
    assert "T" in people.users[1]["created_at"]
    assert not people.users[1]["created_at"].endswith("Z")
    assert task.started_at is not None
    assert task.started_at.endswith("Z")


async def test_a_repository_url_nested_in_config_is_found(
    fake_api: FakeApi, client: ApiClient
) -> None:
    fake_api.add_project(
        ALICE, "shop", description="A shop", repository_url="https://git/shop", nested_config=True
    )
    fake_api.add_project(ALICE, "blog", repository_url="https://git/blog")

    shop, blog = await client.list_projects(ALICE)

    assert (shop.repository, shop.summary) == ("https://git/shop", "A shop")
    assert blog.repository == "https://git/blog"


async def test_an_invalid_item_is_skipped_and_the_rest_of_the_list_kept(
    fake_api: FakeApi, client: ApiClient
) -> None:
    fake_api.respond_with(
        "/api/projects",
        [{"id": 1, "name": "good"}, {"id": 2}, "not an object", {"id": "x", "name": "also good"}],
    )

    projects = await client.list_projects(ALICE)

    assert [p.name for p in projects] == ["good", "also good"]


async def test_servers_without_an_id_decode(people: FakeApi, client: ApiClient) -> None:
    people.add_server("srv-9", labels={"zone": "eu"}, public_ip=None)

    (server,) = await client.list_servers(ADMIN)

    assert (server.handle, server.public_ip, server.labels) == ("srv-9", None, {"zone": "eu"})


async def test_using_the_client_outside_its_context_is_a_programming_error() -> None:
    client = ApiClient("http://127.0.0.1:1", None)

    with pytest.raises(RuntimeError):
        await client.list_users()


# --- create_user -------------------------------------------------------------------


async def test_create_user_posts_the_new_user_as_the_approving_admin(
    people: FakeApi, client: ApiClient
) -> None:
    new = NewUser(telegram_id=STRANGER, username="grace", first_name="Grace")

    user = await client.create_user(new, by=ADMIN)

    assert (user.telegram_id, user.username, user.is_admin) == (STRANGER, "grace", False)
    [post] = [r for r in people.requests if r.method == "POST"]
    assert (post.path, post.headers["X-Telegram-ID"]) == ("/api/users/", str(ADMIN))
    assert post.headers["X-Internal-Key"] == KEY
    assert msgspec.json.decode(post.body)["first_name"] == "Grace"
    assert people.user(STRANGER) is not None


async def test_create_user_counts_an_existing_user_as_done(
    people: FakeApi, client: ApiClient
) -> None:
    user = await client.create_user(NewUser(telegram_id=ALICE, username="other"), by=ADMIN)

    assert (user.telegram_id, user.username) == (ALICE, "alice")
    assert len([u for u in people.users if u["telegram_id"] == ALICE]) == 1


async def test_create_user_twice_creates_one_user(people: FakeApi, client: ApiClient) -> None:
    new = NewUser(telegram_id=STRANGER, first_name="Grace")

    first, second = await client.create_user(new, by=ADMIN), await client.create_user(new, by=ADMIN)

    assert first.id == second.id
    assert len([u for u in people.users if u["telegram_id"] == STRANGER]) == 1


async def test_create_user_follows_a_307_keeping_the_method_and_body(
    people: FakeApi, client: ApiClient
) -> None:
    people.collections_unslashed = True  # the slashed path now answers 307 to /api/users

    user = await client.create_user(NewUser(telegram_id=STRANGER), by=ADMIN)

    assert user.telegram_id == STRANGER
    posts = [r.path for r in people.requests if r.method == "POST"]
    assert posts == ["/api/users/", "/api/users"]


async def test_create_user_fails_as_unavailable_when_the_api_is_down(
    people: FakeApi, client: ApiClient
) -> None:
    people.fail_with = 503

    with pytest.raises(ApiUnavailable, match=r"POST /api/users/: HTTP 503"):
        await client.create_user(NewUser(telegram_id=STRANGER), by=ADMIN)
    assert people.user(STRANGER) is None


async def test_create_user_refuses_an_answer_that_is_not_a_user(
    people: FakeApi, client: ApiClient
) -> None:
    people.respond_with("/api/users/", b"[]", status=201)

    with pytest.raises(ApiBadResponse, match="expected the user object"):
        await client.create_user(NewUser(telegram_id=STRANGER), by=ADMIN)
