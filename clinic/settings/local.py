"""The embedded default for a laptop: `make run` uses these."""

from .base import *  # noqa: F403
from .environment import env, env_flag

DEBUG = env_flag("DJANGO_DEBUG", default=True)
# Only for this machine's demo; production.py requires a real secret and has no default.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-insecure-key-for-the-demo-clinic")
