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
from typing import Any

import torch

from ipaclip._io import recover_folder

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


# --------------------------------------------------------------------------------------
# Pronunciation-encoder repositories
# --------------------------------------------------------------------------------------

HUB_PREFIX = "hf-hub:"


def _is_repo_id(name: str) -> bool:
    """Whether ``name`` is a valid hub repository id (huggingface_hub's own rule)."""
    try:
        from huggingface_hub.utils import HFValidationError, validate_repo_id
    except ImportError:
        return True  # let the download say what is missing
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def download_model(
    repo_id: str,
    files: Iterable[str],
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    force_download: bool = False,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> Path:
    """The local folder of a hub repository's model files, downloaded unless cached.

    Only ``files`` are fetched (no code, nothing else). Offline, or when the hub cannot be
    reached within :data:`PROBE_TIMEOUT_S`, a repository that is not in the cache fails at
    once with what to do, instead of retrying for a minute.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo_id = repo_id.removeprefix(HUB_PREFIX)
    patterns = list(files)
    reason = "local_files_only=True" if local_files_only else unreachable_reason(hub_endpoint())
    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache_dir,
            allow_patterns=patterns,
            force_download=force_download,
            local_files_only=reason is not None,
            token=token,
        )
    except LocalEntryNotFoundError:
        raise RuntimeError(
            f"Cannot load {repo_id!r} from the Hugging Face hub: it is not in the local cache "
            f"and the hub cannot be reached ({reason}). On a machine with network access run "
            f"PronunciationEncoder.from_pretrained({repo_id!r}) once (it fills the cache; copy "
            "~/.cache/huggingface over), or download the repository's files into a folder and "
            "pass that folder."
        ) from None
    return Path(folder)


def _unreachable_push(repo_id: str, saved: Path | None) -> RuntimeError | None:
    """The error for a push while the hub cannot be reached (None when it seems reachable).

    ``saved`` is the folder the model is saved in, or None when it was not kept: the
    message says only what is true.
    """
    reason = unreachable_reason(hub_endpoint())
    if reason is None:
        return None
    if saved is None:
        kept = (
            "Nothing was saved: keep the model with save_pretrained(FOLDER) and upload that "
            f"folder later with push_to_hub, or with `hf upload {repo_id} FOLDER`."
        )
    else:
        kept = f"The model is saved in {saved}; upload it later with `hf upload {repo_id} {saved}`."
    return RuntimeError(
        f"Cannot push to {repo_id!r}: the Hugging Face hub cannot be reached ({reason}). {kept}"
    )


def upload_model(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    commit_message: str,
    private: bool | None = None,
    token: str | bool | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    keeps_folder: bool = True,
) -> str:
    """Create ``repo_id`` if needed and upload ``folder``; return the commit's URL.

    ``keeps_folder`` says whether ``folder`` outlives the call (the offline message then
    names it; a temporary folder is not mentioned as saved).
    """
    from huggingface_hub import HfApi

    repo_id = repo_id.removeprefix(HUB_PREFIX)
    error = _unreachable_push(repo_id, Path(folder).resolve() if keeps_folder else None)
    if error is not None:
        raise error
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        commit_message=commit_message,
        revision=revision,
        create_pr=create_pr,
        repo_type="model",
    )
    return str(getattr(info, "commit_url", info))


class HubMixin:
    """``save_pretrained``, ``from_pretrained`` and ``push_to_hub`` for a class with
    ``save(path, *, g2p, model_card, overwrite)`` and ``load(path)``, with the names and
    arguments of huggingface_hub's ``ModelHubMixin``. ``_hub_files`` names the files a model
    folder may hold: exactly those are downloaded.
    """

    _hub_files: tuple[str, ...] = ()

    # Written here rather than by inheriting ModelHubMixin: its save_pretrained deletes
    # config.json before writing the new model, so a killed save would lose both models.
    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        *,
        g2p=None,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        overwrite: bool = False,
        **push_to_hub_kwargs,
    ) -> str | None:
        """:meth:`save` plus a model card (``README.md``); optionally push the folder.

        ``overwrite`` is :meth:`save`'s: without it, a ``save_directory`` that holds anything
        but a model is refused. Returns the commit URL when ``push_to_hub``, else None.
        """
        self.save(save_directory, g2p=g2p, model_card=True, overwrite=overwrite)
        if push_to_hub:
            return upload_model(
                save_directory,
                repo_id or Path(save_directory).name,
                commit_message=push_to_hub_kwargs.pop(
                    "commit_message", "Upload ipaclip pronunciation encoder"
                ),
                **push_to_hub_kwargs,
            )
        return None

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        token: str | bool | None = None,
    ) -> Any:
        """Load from a local folder or a hub repository (``"org/name"`` or ``"hf-hub:org/name"``).

        Only the model's files (config, weights, lexicon) are downloaded, and they are checked
        as :meth:`load` checks any folder. Offline, a repository that is not cached fails at
        once with what to do.
        """
        source = os.fspath(pretrained_model_name_or_path)
        if not source.startswith(HUB_PREFIX):
            recover_folder(source)  # a local save killed between its two renames
            if Path(source).is_dir():
                return cls.load(source)
            if not _is_repo_id(source):
                raise FileNotFoundError(
                    f"{source} does not exist, and it is not a hub repository id "
                    "('org/name'): pass a folder written by save_pretrained or a repository."
                )
        folder = download_model(
            source,
            cls._hub_files,
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            local_files_only=local_files_only,
            token=token,
        )
        return cls.load(folder)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        g2p=None,
        commit_message: str = "Upload ipaclip pronunciation encoder",
        private: bool | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        create_pr: bool = False,
    ) -> str:
        """Save to a temporary folder and upload it to ``repo_id``; return the commit URL.

        The folder is deleted afterwards: when the hub cannot be reached, nothing is saved
        and the error says so (use :meth:`save_pretrained` to keep a copy).
        """
        import tempfile

        error = _unreachable_push(repo_id.removeprefix(HUB_PREFIX), None)
        if error is not None:  # before any work
            raise error
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "model"
            self.save_pretrained(folder, g2p=g2p)
            return upload_model(
                folder,
                repo_id,
                commit_message=commit_message,
                private=private,
                token=token,
                revision=revision,
                create_pr=create_pr,
                keeps_folder=False,
            )
