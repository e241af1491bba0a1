"""contact-audit: audit a lender's contact logs against a compliance policy."""

__version__ = "0.1.0"
