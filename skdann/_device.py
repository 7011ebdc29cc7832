"""Resolution of the ``device`` parameter."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device) -> torch.device:
    """Return the ``torch.device`` that ``device`` names, or raise a clear error.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"`` (CUDA if
        available, then MPS, then CPU).

    Returns
    -------
    torch.device
        The device; ``"cuda"`` resolves to the current CUDA device index.

    Raises
    ------
    ValueError
        If the string names no device, or the device is not available here.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        spec = str(device)
    elif isinstance(device, str):
        spec = device.strip().lower()
    else:
        raise TypeError(
            f"device must be a string such as 'cpu', 'cuda', 'cuda:0', 'mps' or 'auto', "
            f"got {type(device).__name__}."
        )
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, ValueError):
        raise ValueError(
            f"Unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'."
        ) from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); use device='cpu' or device='auto'."
            )
        index = torch.cuda.current_device() if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} "
                "CUDA device(s) are visible."
            )
        return torch.device("cuda", index)
    if dev.type == "mps":
        if not _mps_available():
            raise ValueError(
                f"device={device!r} was requested but MPS is not available on this machine; "
                "use device='cpu' or device='auto'."
            )
        return torch.device("mps")
    raise ValueError(f"Unsupported device {device!r}: use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'.")
