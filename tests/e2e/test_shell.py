"""The site shell in a real browser: logging in and out, and the navigation."""

import re

from playwright.sync_api import expect

from tests.support.fixtures import make_user


def test_login_rejects_a_wrong_password_then_logs_in_and_out(page, login, screenshot):
    from rocketdbaas.accounts.models import Role

    user = make_user("vic-viewer", Role.VIEWER)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "not-the-password")
    page.click("form.login button[type=submit]")
    expect(page.locator(".form-errors")).to_contain_text("correct username and password")
    expect(page.locator("input[name=username]")).to_have_value(user.username)
    screenshot(page, "login-error")

    login(page, user)
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator(".sidebar")).to_be_visible()
    screenshot(page, "dashboard")

    page.click("text=Log out")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
