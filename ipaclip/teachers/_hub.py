"""Where teacher weights come from: offline detection, a network probe, the hub cache, digests.

Loading a teacher must fail within seconds, with instructions, when its weights are not on
disk and the Hugging Face hub cannot be reached (open_clip and transformers alone retry for
about a minute). This module answers the three questions that decision needs: did the user
ask for offline mode, can a connection be opened, and is a file already in the hub cache.
It also hashes files, folders and state_dicts, for the ``teacher_id`` of weights that have
no published name.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import torch

#: Seconds the network probe waits for a TCP connection (DNS lookup included).
PROBE_TIMEOUT_S = 2.5
_TRUE_STRINGS = {"1", "on", "yes", "true"}


# --------------------------------------------------------------------------------------
# Offline detection and the network probe
# --------------------------------------------------------------------------------------


def hub_offline() -> bool:
    """Return True when the user asked for offline mode (``HF_HUB_OFFLINE``)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _TRUE_STRINGS:
            return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def network_reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Return whether a TCP connection to the host of ``url`` (or its proxy) opens in time.

    The whole probe, DNS lookup included, runs in a daemon thread and is abandoned after
    ``timeout`` seconds, so that it never blocks longer than that.
    """
    outcome: list[bool] = []

    def attempt() -> None:
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname
            port = parts.port or (443 if parts.scheme == "https" else 80)
            proxy = urllib.request.getproxies().get(parts.scheme)
            if proxy and host and not urllib.request.proxy_bypass(host):
                proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
                host, port = proxy_parts.hostname, proxy_parts.port or 80
            if not host:
                outcome.append(False)
                return
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(True)
        except (OSError, ValueError):
            outcome.append(False)

    thread = threading.Thread(target=attempt, name="ipaclip-network-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(outcome and outcome[0])


def hub_endpoint() -> str:
    """The Hugging Face hub's URL (``HF_ENDPOINT`` or huggingface.co)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    return str(getattr(constants, "ENDPOINT", "https://huggingface.co"))


def has_hf_hub() -> bool:
    """Whether ``huggingface_hub`` is installed (open_clip then prefers the hub to URLs)."""
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        return False
    return True


def unreachable_reason(url: str) -> str | None:
    """Return why ``url`` cannot be downloaded from now, or None if it seems reachable."""
    if hub_offline():
        return "HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set"
    if not network_reachable(url):
        host = urllib.parse.urlsplit(url).netloc or url
        return f"no connection to {host} could be opened within {PROBE_TIMEOUT_S:g} s"
    return None


def hf_cached_file(
    repo_id: str, filenames: Iterable[str], cache_dir: str | os.PathLike | None
) -> str | None:
    """Return the local path of the first of ``filenames`` cached for ``repo_id``, if any."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for filename in filenames:
        try:
            found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
        except (ValueError, OSError):  # e.g. a repo id that is not valid on the hub
            return None
        if isinstance(found, str) and os.path.isfile(found):
            return found
    return None


# --------------------------------------------------------------------------------------
# Hashing, for teacher ids
# --------------------------------------------------------------------------------------

_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (first 16 hex digits), cached by path, size and mtime."""
    resolved = os.path.realpath(path)
    stat = os.stat(resolved)
    key = (resolved, stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        digest = hashlib.sha256()
        with open(resolved, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
        _FILE_DIGESTS[key] = digest.hexdigest()[:16]
    return _FILE_DIGESTS[key]


def directory_digest(directory: Path, patterns: Iterable[str]) -> str:
    """sha256 over the names and contents of the files matching ``patterns``."""
    digest = hashlib.sha256()
    files = sorted({p for pattern in patterns for p in directory.glob(pattern) if p.is_file()})
    for path in files:
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(file_digest(path).encode())
    return digest.hexdigest()[:16]


def state_dict_digest(module: torch.nn.Module) -> str:
    """sha256 over a module's state_dict: names, dtypes, shapes and raw bytes."""
    digest = hashlib.sha256(type(module).__qualname__.encode())
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]
