"""The exception hierarchy. Every error scanner raises on purpose is a ScannerError,
and also the builtin a caller would catch for that kind of problem."""


class ScannerError(Exception):
    """Base class of every error raised by scanner on purpose."""


class InvalidInput(ValueError, ScannerError):
    """An argument, file, column or value that scanner cannot use; the message says which and what to do."""


class InputNotFound(FileNotFoundError, ScannerError):
    """A named input file, directory or glob matched nothing."""


class IndexFormatError(ScannerError):
    """An index directory that is missing, damaged, or built with other parameters or another format version."""


class OutputConflict(ScannerError):
    """An output directory holds results of a different run."""
