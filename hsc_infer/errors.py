"""The project's error base: an `HscError` means bad input or set-up that the user can fix.

Command lines print an `HscError` as one line and exit non-zero; any other exception is a bug
and keeps its traceback. The training side's errors (config, dataset, checkpoint, resume,
device, export mismatch) subclass it in `hsc_jax.errors`.
"""

from __future__ import annotations


class HscError(Exception):
    """Input or set-up that cannot be used as given; the message says what and where."""


# What command lines report as one line: the project's errors and paths that do not exist.
USER_ERRORS: tuple[type[Exception], ...] = (
    HscError,
    FileNotFoundError,
    NotADirectoryError,
    FileExistsError,
)


class ContractError(HscError, ValueError):
    """A preprocessing contract, model graph or crop that does not fit what the model expects."""


class MediaError(HscError, RuntimeError):
    """A camera, video, image or output file that cannot be opened, read or written."""


class ProviderError(HscError, RuntimeError):
    """No requested onnxruntime execution provider can run the model."""
