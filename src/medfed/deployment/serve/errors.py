"""Refusals of the inference service, each mapped to one HTTP status and a clear message.

DataError
└── UploadError               an upload cannot be used (HTTP 400)
    ├── UploadTooLargeError       larger than the service's limit (HTTP 413)
    │   └── ImageTooLargeError        declares more pixels than the service decodes (HTTP 413)
    └── UnsupportedImageError     not a PNG, JPEG or DICOM image we can read (HTTP 415)
ConfigError
└── ServiceConfigError        the service cannot start (bad option, bundle, kit or state)
"""

from __future__ import annotations

from medfed.errors import ConfigError, DataError


class UploadError(DataError):
    """The request does not carry one usable image file."""

    code = "upload"
    status = 400


class UploadTooLargeError(UploadError):
    code = "upload_too_large"
    status = 413


class ImageTooLargeError(UploadTooLargeError):
    """The image is small on the wire but declares (or inflates to) too many pixels to decode."""

    code = "image_too_large"
    status = 413


class UnsupportedImageError(UploadError):
    """The file is not an image the model's pre-processing can read."""

    code = "unsupported_image"
    status = 415


class ServiceConfigError(ConfigError):
    """The service cannot start as configured; the message says what to fix."""

    code = "serve_config"
