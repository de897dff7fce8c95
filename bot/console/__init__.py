"""The staff console in the browser, served by the web process (bot/web.py) under /console/:
sign-in by one-time chat links, signed session cookies, and server-rendered pages (Jinja2,
autoescaped; no script). `security` holds the secret, cookies, CSRF tokens, headers and the
limit on bad sign-in attempts; `pages` the routes."""
