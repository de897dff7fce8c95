"""The partnership directory: schools, people and their linked chat identities."""

from bot.directory.identities import identify, link_identity, person_by_email
from bot.directory.importer import ImportSummary, import_directory
from bot.directory.records import parse_directory

__all__ = [
    "ImportSummary",
    "identify",
    "import_directory",
    "link_identity",
    "parse_directory",
    "person_by_email",
]
