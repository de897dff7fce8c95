"""Teaching the bot its gaps: learned phrasings (members' wordings that staff attach to FAQ
entries), the live knowledge base that uses them in every process, and the gaps report.

Modules: `learned` (the table), `conflicts` (what a new phrasing would change; pure), `teach`
(checks and storing, shared by chat and command line), `live` (the holder the dispatcher
matches with), `reports` (gaps and the YAML export).
"""
