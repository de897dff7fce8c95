"""The shared vocabulary, the bottom floor: message and reply types, the ports a channel
implements, the texts people read, errors, and YAML read with line numbers. It imports nothing
else of the bot, so every other package may import it."""
