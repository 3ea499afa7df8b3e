#!/bin/sh
# The browser tests drive the distribution's chromium (never a browser Playwright downloads).
# Install it when it is missing and we may (root with apt-get); otherwise those tests skip.
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
        || echo "ensure-chromium: could not install chromium; the browser tests will skip" >&2
else
    echo "ensure-chromium: no chromium (install the chromium package); the browser tests will skip" >&2
fi
exit 0
