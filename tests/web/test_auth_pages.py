"""Web sign-in, CSRF, language, landing pages, error pages and served assets (Flask test client, real DB)."""
import pytest

from factories import FIRST_COMMUNITY, csrf_from, make_user, web_login


@pytest.fixture
def client(grid_app):
    return grid_app.test_client()


def test_sign_in_page_is_chinese_by_default_and_english_on_request(client):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and 'lang="zh-CN"' in page
    english = client.get("/login?lang=en")
    assert "Sign in" in english.get_data(as_text=True)
    assert "wangge_lang=en" in english.headers["Set-Cookie"]
    assert "Sign in" in client.get("/login").get_data(as_text=True)  # remembered


@pytest.mark.parametrize("role,scope,landing", [
    ("supervisor", FIRST_COMMUNITY, "/review"),
    ("inspector", "420500", "/inspect"),
    ("city_viewer", "420500", "/map"),
    ("admin", "420500", "/devices"),
])
def test_each_role_lands_on_its_page(grid_app, client, role, scope, landing):
    response = web_login(client, make_user(grid_app, role, scopes=[scope]))
    assert response.status_code == 302 and response.headers["Location"] == landing


def test_wrong_password_is_refused_plainly(grid_app, client):
    response = web_login(client, make_user(grid_app, "supervisor", scopes=[FIRST_COMMUNITY]), "not-it-at-all")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(grid_app, client):
    username = make_user(grid_app, "supervisor", scopes=[FIRST_COMMUNITY])
    response = client.post("/login", data={"username": username, "password": "wangge-test-pw"})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert client.post("/logout").status_code == 400


def test_failed_sign_ins_are_rate_limited(make_app):
    app = make_app(LOGIN_MAX_FAILURES=3)
    client = app.test_client()
    username = make_user(app, "admin", scopes=["420500"])
    statuses = [web_login(client, username, "wrong-password").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert "登录失败次数过多" in web_login(client, username).get_data(as_text=True)


def test_pages_need_sign_in_and_come_back_after_it(grid_app, client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    username = make_user(grid_app, "grid_admin")
    token = csrf_from(client.get("/login?next=/").data)
    signed_in = client.post("/login?next=/", data={"username": username, "password": "wangge-test-pw",
                                                   "csrf_token": token})
    assert signed_in.headers["Location"] == "/"
    assert "平板" in client.get("/").get_data(as_text=True)


def test_sign_in_never_redirects_to_another_site(grid_app, client):
    username = make_user(grid_app, "supervisor", scopes=[FIRST_COMMUNITY])
    token = csrf_from(client.get("/login").data)
    response = client.post("/login?next=https://evil.example/", data={
        "username": username, "password": "wangge-test-pw", "csrf_token": token})
    assert response.headers["Location"] == "/review"


def test_sign_out_ends_the_session(grid_app, client):
    username = make_user(grid_app, "grid_admin")
    web_login(client, username)
    page = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_from(page)}).status_code == 302
    assert client.get("/").status_code == 302


def test_a_disabled_account_loses_its_session(grid_app, client):
    from server.accounts.services import disable_user
    from server.extensions import db

    username = make_user(grid_app, "grid_admin")
    web_login(client, username)
    with grid_app.app_context():
        disable_user(username)
        db.session.commit()
    assert client.get("/").status_code == 302


def test_pages_get_html_errors_and_the_api_keeps_json(client):
    page = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.mimetype == "text/html" and "页面不存在" in page.get_data(as_text=True)
    api = client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.is_json


def test_leaflet_is_served_by_us(client):
    response = client.get("/vendor/leaflet/leaflet.js")
    assert response.status_code == 200 and b"Leaflet" in response.data[:2000]
    assert client.get("/vendor/leaflet/leaflet.css").status_code == 200
    assert client.get("/vendor/leaflet/../../../setup.py").status_code == 404
