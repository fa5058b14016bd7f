from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from fhir_api.services import api_client_register


class Command(BaseCommand):
    help = "Register a FHIR API client and grant it scopes; prints its id and secret once."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="The program, e.g. Referral portal")
        parser.add_argument(
            "--scopes",
            required=True,
            help='Space-separated, e.g. "system/Patient.rs system/Slot.rs"',
        )
        parser.add_argument("--rate-limit", type=int, default=None, help="Requests per minute")

    def handle(self, *args, name, scopes, rate_limit, **options):
        try:
            new = api_client_register(name=name, scopes=scopes, rate_limit_per_minute=rate_limit)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"client_id={new.client_id}\nclient_secret={new.client_secret}")
        self.stdout.write("The secret is stored hashed: copy it now.")
