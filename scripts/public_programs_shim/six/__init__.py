"""A stand-in for ``six`` (not installed here): only ``six.moves.urllib``, for the programs that
import it to download data the harness has already written."""

from six import moves

__all__ = ["moves"]
