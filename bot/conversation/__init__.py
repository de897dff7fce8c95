"""The top of the domain: the dispatcher reads what a person sends and answers it, using every
package below (escalation, digest, teaching, knowledge, directory, delivery, store, core)."""
