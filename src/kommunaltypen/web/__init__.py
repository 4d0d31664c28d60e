"""The web application (FastAPI): JSON API, later the public self-check and the analyst
workspace. Needs the ``web`` extra (``pip install 'kommunaltypen[web]'``).

The web package imports the core (``service``, ``codebook``, ``i18n``) and the storage
package; neither of them imports the web package.
"""

from __future__ import annotations

from kommunaltypen.web.app import create_app
from kommunaltypen.web.settings import Settings

__all__ = ["Settings", "create_app"]
