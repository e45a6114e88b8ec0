"""The small set of exceptions OrbitEOS raises; messages say what was expected and what was found."""

from __future__ import annotations


class OrbitEOSError(Exception):
    """Base of every OrbitEOS error."""


class ConfigError(OrbitEOSError):
    """A configuration problem at a place in a YAML file."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}: {self.message}"
        if self.file:
            return f"{self.file}: {self.message}"
        return self.message


class ServiceNotFound(OrbitEOSError):
    def __init__(self, domain: str, service: str) -> None:
        self.domain = domain
        self.service = service
        super().__init__(f"service {domain}.{service} not found")


class ServiceValidationError(OrbitEOSError):
    """Service data did not fit the service's schema."""


class TemplateError(OrbitEOSError):
    """A template failed to compile or render."""


class DeviceUnavailable(OrbitEOSError):
    """A device could not be reached or did not answer."""


class InvalidStateError(OrbitEOSError, ValueError):
    """A state text longer than Home Assistant's 255 characters."""
