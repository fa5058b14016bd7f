"""Forms of the clinic's staff accounts: the manager's invitation, and the staff's own
password reset request. They check shape and uniqueness; the services write."""

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from .models import StaffMember


class StaffInviteForm(forms.ModelForm):
    """A new staff member: who they are and their role. No password field: they set
    their own through the emailed invitation."""

    username = forms.CharField(
        label=_("User name"), max_length=150, help_text=_("What they type to log in.")
    )
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    email = forms.EmailField(
        label=_("Email"), help_text=_("The invitation and password resets go here.")
    )

    class Meta:
        model = StaffMember
        fields = ["role", "title", "language"]

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        User.username_validator(username)
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("Someone has this user name already."))
        return username

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip().lower()
        # One account per address, so a reset link reaches exactly one person.
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("Another account uses this email address."))
        return email


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Your work email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
