"""Everything the bot says, in one place, so wording can be reviewed without reading logic."""

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
    "To get access, ask the Partnership office for an invitation code, then send /start CODE here. "
    "If you need urgent help now, phone the hotline on {phone}."
)
HELP = (
    "Ask me a question in your own words, for example about membership, Ofsted, networks and "
    "CPD, or what to do in an urgent situation.\n"
    "/human: ask for a person from the Partnership team to reply to you\n"
    "/help: this message\n"
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
    "here, normally within one working day. If it becomes urgent, phone the hotline on {phone}."
)
HUMAN_NO_TEXT = "(asked to speak to a person)"
