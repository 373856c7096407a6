"""``six.moves.urllib`` is Python 3's ``urllib``."""

import urllib
import urllib.request

__all__ = ["urllib"]
