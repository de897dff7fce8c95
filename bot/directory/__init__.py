"""The partnership directory: schools, people and their linked chat identities."""

from bot.directory.identities import identify, link_identity, person_by_email
from bot.directory.importer import ImportSummary, import_directory
from bot.directory.invites import create_invite, redeem_invite
from bot.directory.records import parse_directory

__all__ = [
    "ImportSummary",
    "create_invite",
    "identify",
    "import_directory",
    "link_identity",
    "parse_directory",
    "person_by_email",
    "redeem_invite",
]
