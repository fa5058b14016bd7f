"""Login, logout and the home page."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse
from django.utils.html import escape

from ..factories import AppointmentFactory

pytestmark = pytest.mark.django_db


def test_the_home_page_asks_anonymous_visitors_to_log_in(client):
    response = client.get(reverse("treatments:home"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


def test_the_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content


def test_a_wrong_password_is_a_form_error_not_a_login(client, receptionist_client):
    username = receptionist_client.staff_member.user.username
    response = client.post(reverse("login"), {"username": username, "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert "_auth_user_id" not in client.session


def test_the_home_page_says_who_you_are_and_your_role(receptionist_client):
    user = receptionist_client.staff_member.user
    response = receptionist_client.get(reverse("treatments:home"))
    assert response.status_code == 200
    assert user.get_full_name() in response.content.decode()
    assert "receptionist" in response.content.decode()


def test_the_home_page_lists_todays_appointments_each_a_link_to_it(receptionist_client):
    appointment = AppointmentFactory()
    response = receptionist_client.get(reverse("treatments:home"))
    link = reverse("treatments:appointment_detail", args=[appointment.pk])
    name = escape(appointment.patient.full_name)  # "O'Brien" is written O&#x27;Brien
    assert f'<a href="{link}">{name}</a>' in response.content.decode()


def test_only_the_manager_is_shown_the_way_to_the_admin(receptionist_client, manager_client):
    admin_url = reverse("admin:index").encode()
    assert admin_url not in receptionist_client.get(reverse("treatments:home")).content
    assert admin_url in manager_client.get(reverse("treatments:home")).content


def test_logout_is_a_post_and_ends_the_session(receptionist_client):
    assert receptionist_client.get(reverse("logout")).status_code == 405
    response = receptionist_client.post(reverse("logout"))
    assert response.status_code == 302
    assert receptionist_client.get(reverse("treatments:home")).status_code == 302


@pytest.mark.django_db
def test_a_refused_page_says_why_and_leads_back_with_the_navigation(receptionist_client):
    response = receptionist_client.get(reverse("treatments:manager_dashboard"))

    assert response.status_code == 403
    page = response.content.decode()
    assert "This page is not for your role" in page
    assert "Your role does not allow this." in page
    assert 'aria-label="Main"' in page  # the navigation bar, not a bare page
    assert f'href="{reverse("treatments:home")}"' in page


def test_a_missing_record_answers_404_with_the_navigation_and_a_way_on(receptionist_client):
    response = receptionist_client.get(reverse("treatments:appointment_detail", args=[999999]))

    assert response.status_code == 404
    page = response.content.decode()
    assert "Nothing here" in page
    assert "No such appointment." in page  # the view's own reason
    assert 'aria-label="Main"' in page
    assert f'href="{reverse("treatments:patient_search")}"' in page


@pytest.mark.urls("tests.clinic.urls_with_a_fault")
def test_an_unexpected_error_answers_500_with_the_navigation_and_no_detail(receptionist_client):
    receptionist_client.raise_request_exception = False

    response = receptionist_client.get("/fails/")

    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert 'aria-label="Main"' in page
    assert receptionist_client.staff_member.user.get_full_name() in page  # the user's nav
    assert "an error no view expects" not in page
    assert "Traceback" not in page


@pytest.mark.urls("tests.clinic.urls_with_a_fault")
def test_a_write_that_met_another_unforeseen_answers_409_and_saves_nothing(
    receptionist_client, caplog
):
    receptionist_client.raise_request_exception = False
    users = User.objects.count()

    page = receptionist_client.get("/writes-a-taken-username/")
    api = receptionist_client.post("/api/writes-a-taken-username/")

    assert page.status_code == api.status_code == 409
    assert "Someone else changed this at the same moment" in page.content.decode()
    assert "Someone else changed this at the same moment" in api.json()["error"]
    assert "Traceback" not in page.content.decode()
    assert User.objects.count() == users
    # The log names what refused the row, not the row's values.
    assert "met another one at the same moment" in caplog.text
    assert receptionist_client.staff_member.user.username not in caplog.text


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a deadlock between two connections is a database server's; SQLite serialises writers",
)
@pytest.mark.urls("tests.clinic.urls_with_a_fault")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_write_that_lost_a_deadlock_answers_409_not_503(receptionist_client):
    receptionist_client.raise_request_exception = False

    response = receptionist_client.get("/loses-a-deadlock/")

    assert response.status_code == 409
    assert "Someone else changed this at the same moment" in response.content.decode()
    assert "database cannot be reached" not in response.content.decode()
