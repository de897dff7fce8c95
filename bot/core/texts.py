"""Everything the bot says, in one place, so wording can be reviewed without reading logic."""

from bot.core.types import Button

EMPTY = "I didn't catch a question there. Type your question in a sentence, or send /help."
TOO_LONG = (
    "That message is too long for me ({length:,} characters; the limit is {limit:,}). Please send "
    "the main question in a sentence or two, or send /human and a person will get back to you."
)
SLOW_DOWN = (
    "You're sending messages faster than I can keep up with. Please wait a minute and try again."
)
APOLOGY = (
    "Sorry, something went wrong on my side and I couldn't deal with that message. Please try "
    "again in a moment. If it is urgent, phone the hotline on {phone}."
)
STORE_DOWN = (
    "Sorry, I can't save anything right now, so I can't take this request. If it is urgent, "
    "please phone the hotline on {phone}."
)
UNKNOWN_SENDER = (
    "Hello! This is the member hotline of the schools partnership. I can only help people from "
    "member schools and the Partnership team, and I don't recognise this account yet.\n"
    "To get access, ask the Partnership office for an invitation code, then send /start CODE here "
    "(in Slack: /hotline link CODE). "
    "If you need urgent help now, phone the hotline on {phone}."
)
# {commands}: a line for each command a member may use, from its declaration
# (bot/conversation/commands.py)
HELP = (
    "Ask me a question in your own words, for example about membership, Ofsted, networks and "
    "CPD, or what to do in an urgent situation.\n"
    "{commands}\n"
    "If anyone is in immediate danger, call 999. For urgent help phone the hotline on {phone}."
)
WELCOME = "Hello {name}! " + HELP
UNKNOWN_COMMAND = "I don't know the command {command}. " + HELP

ANSWER_FOOTER = "Was this helpful?"
SUGGEST = "I'm not completely sure what you need. Is it one of these?"
NONE_OF_THESE = "None of these: ask a person"
UNKNOWN_QUESTION = (
    "I don't know that one yet, sorry (send /help to see what I can do). Shall I pass your "
    "question to the Partnership team? Someone will reply to you here."
)
SEND_TO_TEAM = "Yes, pass it on"
NO_THANKS = "No thanks"
HELPFUL = "👍 Helpful"
NOT_HELPFUL = "👎 Not helpful"
THANKS_HELPFUL = "Thanks for letting me know."
THANKS_NOT_HELPFUL = (
    "Thanks for letting me know; sorry that didn't help. Shall I pass your question to a person?"
)
OK_NOT_PASSED = "OK. Ask me something else any time."
STALE_BUTTON = "That button has expired. Please ask your question again."

PASSED_ON = (
    "I've passed this to the Partnership team (reference {reference}). Someone will reply to you "
    "here, normally within {days}. If it becomes urgent, phone the hotline on {phone}."
)
HUMAN_NO_TEXT = "(asked to speak to a person)"

# Emergencies (members)
DANGER_FIRST = "If anyone is in immediate danger, call 999 now."
SOUNDS_URGENT = "This sounds urgent: shall I alert the duty officer now?"
ALERT_NOW = "Yes, alert now"
JUST_ANSWER = "No, just answer"
EMERGENCY_ALERTING = (
    "I've logged this as an emergency (reference {reference}) and I'm alerting {who} by chat "
    "now. I'll tell you here as soon as someone has it, and I'll keep alerting the duty rota "
    "until someone does. {phone_line}"
)
EMERGENCY_HELD = (
    "I've logged this as an emergency (reference {reference}). The hotline is closed now, so "
    "nobody has been alerted yet: the duty officer will pick it up when it opens, {opens}. "
    "If it can't wait until then, press \"It can't wait\" and I'll alert the senior manager on "
    "call now, or phone {out_of_hours}."
)
EMERGENCY_NOBODY = (
    "I've logged this as an emergency (reference {reference}), but I could not reach anyone on "
    "the duty rota by chat, so nobody has been alerted. Please phone {phone} now. If anyone is in "
    "immediate danger, call 999."
)
CANT_WAIT = "It can't wait"
CHOSE_CANT_WAIT = "You chose: it can't wait."
HOTLINE_LINE = "You can also phone the hotline on {phone}."
OUT_OF_HOURS_LINE = "The hotline is closed now; for help by phone call {out_of_hours}."
OUT_OF_HOURS_NUMBER = "the out-of-hours line on {phone}"
OUT_OF_HOURS_UNKNOWN = "your local authority's out-of-hours emergency duty team"
# Who was pinged, by rota level, as the member is told
# Who is alerted, as a ping names the chain step (staff) and as the member is told, by rota role;
# a person or group step is named by its label.
STAFF_LEVELS = {"primary": "primary duty officer", "backup": "backup duty officer"}
MEMBER_LEVELS = {
    "primary": "the duty officer",
    "backup": "the backup duty officer",
    "fallback": "the senior manager on call",
}
NAMED_CONTACT = "named contact"
ALREADY_RAISED = "You've already raised this: it is emergency {reference}."
EMERGENCY_ADDED = (
    "I've added this to your emergency request {reference}, which was opened moments ago."
)
STORE_DOWN_EMERGENCY = (
    "Sorry, I could not log this request because of a fault on my side, so nobody has been "
    "alerted yet. Please phone the hotline now on {phone}."
)
UNKNOWN_SENDER_EMERGENCY = (
    "I can't raise emergencies for accounts I don't recognise, so nobody has been alerted. "
    "Please phone the hotline now on {phone}. If anyone is in immediate danger, call 999. "
    "To link this account, ask the Partnership office for an invitation code."
)
GUIDANCE_HEADER = "While you wait:"
FOLLOW_UP_ADDED = "I've added this to your request {reference}. {state}"
FOLLOW_UP_OWNER = "{name} has your request and will see it."
FOLLOW_UP_PINGED = "I've passed it on to the staff alerted about it; nobody has picked it up yet."
FOLLOW_UP_WAITING = "It's on the request's record; nobody has picked the request up yet."
OPEN_REQUEST_NOTE = "(Your request {references} is still open.)"
OPEN_REQUESTS_NOTE = "(Your requests {references} are still open.)"
ADD_OR_NEW = "Add this to {references}, or is it something new?"
ADD_TO = "Add to {reference}"
SOMETHING_NEW = "Something new"
NO_LONGER_OPEN = "{reference} has been closed since, so I haven't added this to it."
SOUNDS_URGENT_OPEN = (
    "This sounds urgent: shall I alert the duty officer now, as a new emergency? (Your request "
    "{references} is still open.)"
)
THE_TEAM = "the Partnership team"

# Members: updates about their request (sent through the outbox)
MEMBER_ACKNOWLEDGED = (
    "{name} from the Partnership has your request {reference} and will contact you."
)
MEMBER_RESOLVED = (
    "Your request {reference} has been closed by {name}. Thank you. "
    "Reply here if you need anything else."
)
STAFF_REPLY = "{name} (Partnership) about {reference}:\n{text}"

# Staff
STAFF_PING = (
    "HOTLINE {reference} ({level})\nCategory: {category}\nSchool: {school}\n"
    "From: {member} ({phone})\nMessage: {text}"
)
ACKNOWLEDGE = "Acknowledge"
RESOLVE = "Resolve"
CLAIM = "I'll reply"
ACKNOWLEDGED_BY = "Acknowledged by {name} at {time}."
RESOLVED_LINE = "{line} Resolved."
YOU_ACKNOWLEDGED = "You have {reference}. The member has been told you will contact them."
ALREADY_ACKNOWLEDGED = "{reference} was already acknowledged by {name}."
ALREADY_RESOLVED = "{reference} is already resolved."
YOU_RESOLVED = "{reference} is resolved and the member has been told."
RESOLVE_NEEDS_NOTE = (
    "To close {reference}, send /resolve {reference} followed by a short note of what was done."
)
NOTE_ADDED = "Note added to {reference}."
REPLY_SENT = "Your reply to {reference} has been sent to the member."
REPLY_SENT_BY_EMAIL = (
    "{reference}: the member has no chat account we can reach, so your reply was sent to their "
    "email address."
)
REMINDER = "Reminder: {reference} is acknowledged but not resolved yet."
FOLLOW_UP = "{reference}: {member} adds:\n{text}"
SUPPORT_POST = (
    "Support request {reference} from {member}:\n{text}\nReply with /reply {reference} YOUR ANSWER."
)
NO_ROTA_ALERT = "⚠ {reference}: no duty rota is loaded, so nobody was pinged. Phone the school now."
NOBODY_REACHABLE = (
    "⚠ {reference}: nobody on the rota, not even the fallback, could be reached by chat. "
    "Phone the school now."
)
CHAIN_EXHAUSTED = (
    "⚠ {reference}: still not acknowledged after every step of its escalation chain, and "
    "nobody will be pinged again. Phone the school now."
)
STAFF_ONLY = "Sorry, {command} is for Partnership staff only."
BAD_REFERENCE = (
    "I can't find a request {reference!r}. References look like HL-2026-0042; "
    "send /open to list them."
)
USAGE = "Usage: {usage}"
NOBODY_ON_DUTY = (
    "Nobody is on duty at the moment (outside hotline hours). The fallback is {fallback}."
)
ON_DUTY = "On duty now: primary {primary}, backup {backup}; fallback {fallback}."
NO_ROTA = "No duty rota is loaded yet (hotline rota import FILE)."
NO_OPEN_REQUESTS = "No open requests."
CONSOLE_LINK = (
    "Your sign-in link for the staff console, usable once within {minutes} minutes:\n{url}\n"
    "Don't forward it: it signs in as you. Send /console again for a new one."
)
STAFF_HELP = (  # {commands}: as in HELP, those staff may use
    "Staff commands (REF is a request reference like HL-2026-0042):\n"
    "{commands}\n"
    "Pings come with Acknowledge and Resolve buttons. Ask me a question to see what a member "
    "would get."
)
STAFF_MENU = "Staff: {help}"  # a staff command in a platform's command menu
REFERENCE_USAGE = "Usage: {usage}, where REF is a request reference like HL-2026-0042."
WAITING_REFERENCES = "Not acknowledged yet: {references}."
YOUR_REFERENCES = "Acknowledged by you and not resolved yet: {references}."
AND_MORE = " and more (send /open)"
SEE_OPEN = "Send /open to list the open requests."


def claim_button(request_id: int) -> Button:
    return Button(CLAIM, f"ack:{request_id}")


def resolve_button(request_id: int) -> Button:
    return Button(RESOLVE, f"res:{request_id}")


MEMBERS_ONLY = (
    "{command} is for members of partnership schools. Staff can see open requests with /open."
)
EMERGENCY_NO_TEXT = "(no details given: please call the school)"

# Linking accounts
LINKED = "Thanks {name}, this account is now linked to you."
ALREADY_LINKED = (
    "This account is already linked to you. To link another chat account, send the invitation "
    "code from that account."
)
BAD_INVITE_CODE = (
    "That invitation code didn't work: it may be mistyped, already used or expired. Ask the "
    "Partnership office for a new one. If you need urgent help now, phone the hotline on {phone}."
)
CHOSE_ALERT = "You chose: alert the duty officer."
CHOSE_ANSWER = "You chose: just the answer."
CHOSE_NEW = "You chose: something new."

# Digest
DIGEST_HEADER = "Good morning {name}! Your weekly update from the Partnership, {date}."
DIGEST_NEWS = "News"
DIGEST_EVENTS = "Coming up in the next {span}"
DIGEST_FAQ = "New and updated answers"
DIGEST_FAQ_NOTE = "Ask me about any of these."
DIGEST_FAQ_NEW = "New: {question}"
DIGEST_FAQ_UPDATED = "Updated: {question}"
DIGEST_READ_MORE = "Read more"
DIGEST_DETAILS = "Details"
DIGEST_NOTHING_NEW = "Nothing new from the Partnership this week."
DIGEST_FOOTER = (
    "Hotline for anything urgent: {phone}. Send /unsubscribe to stop these weekly updates."
)
STAFF_DIGEST_HEADER = "Hotline week {start} to {end}: {total} request{s}."
STAFF_DIGEST_CATEGORIES = "Requests by category"
STAFF_DIGEST_RESPONSE = "Response"
STAFF_DIGEST_ACK = "Time to acknowledge: median {median}, 95th percentile {p95}"
STAFF_DIGEST_LEVELS = "Escalation: {reached}"
STAFF_DIGEST_OPEN = "Open requests"
STAFF_DIGEST_GAPS = "Questions the FAQ could not answer"
STAFF_DIGEST_NOT_HELPFUL = "Answers marked not helpful"
STAFF_DIGEST_FOOTER = "Send /unsubscribe to stop this weekly summary."
SUBSCRIBED = (
    "You're subscribed to the weekly digest: news, events and new answers every Monday morning. "
    "Send /unsubscribe to stop."
)
ALREADY_SUBSCRIBED = "You're already subscribed to the weekly digest. Send /unsubscribe to stop."
UNSUBSCRIBED = "Done: you won't get the weekly digest any more. Send /subscribe to start again."
ALREADY_UNSUBSCRIBED = "You're not subscribed to the weekly digest. Send /subscribe to start."
NEWS_ADDED = "News added: {title!r}. Subscribers will see it in the next weekly digest."
EVENT_ADDED = "Event added: {title!r} on {when}. Weekly digests will list it in the weeks before."
NEWS_USAGE = "/news TITLE | TEXT (the text may include a link written as [label](https://...))"
EVENT_USAGE = "/event DATE | TITLE | TEXT, e.g. /event 2026-12-03 16:00 | DSL network | Room 2"
EVENT_IN_PAST = "{when} has already passed. " + "Usage: " + EVENT_USAGE

# Teaching the FAQ its gaps (the staff chat's /teach and `hotline faq teach`)
TEACH_USAGE = (
    "Usage: /teach REF [ENTRY-ID], where REF is a passed-on question's reference like "
    "HL-2026-0042; or reply to its support request with /teach ENTRY-ID. Without ENTRY-ID I "
    "show the closest FAQ entries to choose from."
)
TEACH_BUTTON = "Teach: {question}"
TEACH_ANYWAY = "Teach anyway"
TEACH_CHOOSE = 'Which FAQ entry answers {reference}: "{text}"? Or send /teach {reference} ENTRY-ID.'
TEACH_NO_SUGGESTIONS = (
    'No FAQ entry comes close to {reference}: "{text}". Send /teach {reference} ENTRY-ID with '
    "the id of the entry that answers it."
)
TEACH_NOT_SUPPORT = (
    "{reference} is an emergency, not a passed-on question: only questions passed to the team "
    "can be taught."
)
TEACH_NO_QUESTION = "{reference} has no question to teach: the member only asked for a person."
TEACH_NO_REQUEST = (
    "I can't tell which request that message is about: send /teach REF ENTRY-ID instead."
)
TEACH_STALE = (
    "That button has expired (its request or FAQ entry is gone). Send /teach REF for the current "
    "choices."
)
TEACH_EMPTY = "There is no question text to teach."
TEACH_TOO_LONG = "That text is {length} characters; a phrasing can be at most {limit}."
TEACH_UNKNOWN_ENTRY = "There is no FAQ entry {entry_id!r}.{hint}"
TEACH_DID_YOU_MEAN = " Did you mean {ids}?"
TEACH_OTHER_ENTRY = (
    'Not taught: "{text}" is already a phrasing of {owner}, and a wording can belong to one '
    "entry only."
)
TEACH_KNOWN = 'Already known: "{text}" is a phrasing of {entry_id}.'
TEACH_DONE = 'Taught: "{text}" → {entry_id} ({question}).'
TEACH_ANSWERS = "Asked like that, members now get its answer."
TEACH_STILL = "Asked exactly like that it still gets {outcome}: other entries share its words."
TEACH_CHANGES = "This changes other answers:"
TEACH_HELD = 'Not taught: "{text}" → {entry_id} would change other answers:'
TEACH_HELD_CHAT = "Press Teach anyway to store it all the same, or choose another entry."
TEACH_HELD_CLI = "Nothing stored: add --force to teach it all the same."

# The digest by email (bot/digest/email_message.py) and /digest (digest_commands.py)
EMAIL_DIGEST_SUBJECT = "{partnership}: this week ({date})"
EMAIL_DIGEST_STAFF_SUBJECT = "{partnership}: the hotline week ({date})"
EMAIL_DIGEST_HOTLINE = "Hotline for anything urgent: {phone}."
EMAIL_DIGEST_CHAT_HINT = (
    "Prefer chat? Once your chat account is linked, send /digest chat to the hotline bot and "
    "the digest comes there instead."
)
EMAIL_DIGEST_UNSUBSCRIBE = "Unsubscribe from these weekly emails"
EMAIL_DIGEST_WHY = "You get this weekly email from {partnership} because you are in its directory."
DIGEST_CHANNEL_USAGE = "/digest email, /digest chat or /digest off"
DIGEST_NOW_EMAIL = (
    "The weekly digest now comes by email to {email}. Send /digest chat to get it here."
)
DIGEST_NOW_CHAT = "The weekly digest now comes here. Send /digest email to get it by email instead."
DIGEST_NOW_OFF = (
    "Done: you won't get the weekly digest any more. Send /digest chat or /digest email to "
    "start again."
)
DIGEST_SHOW_EMAIL = "You get the weekly digest by email ({email}). Change it with {usage}."
DIGEST_SHOW_CHAT = "You get the weekly digest here in chat. Change it with {usage}."
DIGEST_SHOW_DEFAULT = (
    "You get the weekly digest in chat while you have a linked chat account, otherwise by email "
    "({email}). Choose with {usage}."
)
DIGEST_SHOW_OFF = "You don't get the weekly digest. Start it with /digest chat or /digest email."

# Restricted requests (safeguarding, allegation: bot/privacy/access.py): what those without the
# safeguarding role, and shared chats, get instead of the words
WITHHELD_CHAT = (
    "{category} {kind} at {school}, {reference}, open it in a direct message: /open {reference}"
)
WITHHELD_PING = "{summary}\nFrom: {member} ({phone})"
WITHHELD_FACTS = (
    "{reference}, {school}, {status}, {times}. Restricted ({category}): only staff with the "
    "safeguarding role and those pinged for it read its messages."
)
WITHHELD_OPENED = "opened {at}"
WITHHELD_ACKNOWLEDGED = "acknowledged {at}"
WITHHELD_RESOLVED = "resolved {at}"
WITHHELD_DETAIL = "(withheld: restricted)"
OPEN_IN_PRIVATE = (
    "{reference} is restricted ({category}): send /open {reference} to me in a direct message, "
    "not in a shared chat."
)
OPEN_DETAIL = (
    "{reference} ({kind}, {category}) {status}\nSchool: {school}\nFrom: {member}\n"
    "Opened {opened}{owner}\nMessage: {text}"
)
