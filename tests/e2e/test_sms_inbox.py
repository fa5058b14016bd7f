"""A patient's text, from the provider's webhook to the desk: posted to the live server as
Twilio posts it (signed), then read and marked handled by a receptionist in the browser."""

import base64
import hashlib
import hmac

import pytest
import requests
from selenium.webdriver.common.by import By

from clinic.models import InboundSms, StaffMember

from ..factories import PatientFactory, StaffMemberFactory, UserFactory
from .conftest import (
    log_in,
    serious_accessibility_violations,
    submit_and_wait,
    wait_for,
    wait_for_text,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
AUTH_TOKEN = "twilio-e2e-token"


def post_as_twilio(url: str, form: dict[str, str]) -> requests.Response:
    text = url + "".join(name + form[name] for name in sorted(form))
    digest = hmac.new(AUTH_TOKEN.encode(), text.encode(), hashlib.sha1).digest()
    headers = {"X-Twilio-Signature": base64.b64encode(digest).decode()}
    return requests.post(url, data=form, headers=headers, timeout=10)


def test_a_patients_question_reaches_the_desk_which_marks_it_handled(
    browser, live_server, settings, axe_source
):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.CLINIC_BASE_URL = live_server.url
    patient = PatientFactory(first_name="Lucía", last_name="Fernández", phone="+12125550177")
    StaffMemberFactory(
        user=UserFactory(username="reception", first_name="Rita", last_name="Reyes"),
        role=StaffMember.Role.RECEPTIONIST,
    )

    answer = post_as_twilio(
        f"{live_server.url}/sms/inbound/twilio/",
        {
            "MessageSid": "SM" + "7" * 32,
            "From": "+12125550177",
            "To": "+12125550000",
            "Body": "¿Puedo llegar a las 11?",
        },
    )
    assert (answer.status_code, answer.text.endswith("<Response/>")) == (200, True)

    log_in(browser, live_server, "reception")
    browser.find_element(By.LINK_TEXT, "Texts").click()
    wait_for_text(browser, "main table", "¿Puedo llegar a las 11?")
    row = browser.find_element(By.CSS_SELECTOR, "main tbody tr")
    assert "Lucía Fernández" in row.text and "Kept for the desk" in row.text
    assert serious_accessibility_violations(browser, axe_source) == []

    submit_and_wait(browser, row.find_element(By.XPATH, ".//button[text()='Mark handled']"))

    wait_for(browser, ".alert-success")
    assert "Rita Reyes" in browser.find_element(By.CSS_SELECTOR, "main tbody tr").text
    assert not browser.find_elements(By.XPATH, "//button[text()='Mark handled']")
    handled = InboundSms.objects.get()
    assert (handled.patient, handled.handled_by.username) == (patient, "reception")
