#!/bin/sh
# Prints "URI KEYRING" (KEYRING "-" when none is named) of the Debian archive this machine's apt uses:
# the first deb822 stanza (or one-line entry) that names a Debian suite that is not a security one.
# The repository names no registry host: the guests' kernels (tests/vm/fetch-kernel.sh) and the bare
# roots (tests/fresh/) come from wherever this machine's packages come from.
set -eu

for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	awk '
		function flush() {
			if (uri != "" && suites != "" && suites !~ /-security/ && types ~ /(^| )deb( |$)/ && !done) {
				print uri, (key == "" ? "-" : key); done = 1
			}
			uri = ""; suites = ""; types = ""; key = ""
		}
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		tolower($1) == "types:"     { types = $0; sub(/^[^:]*:[ \t]*/, "", types) }
		tolower($1) == "uris:"      { uri = $2 }
		tolower($1) == "suites:"    { suites = $0 }
		tolower($1) == "signed-by:" { key = $2 }
		END { flush() }
	' "$f"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	# deb [opts] URI SUITE COMPONENTS...
	sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 !~ /-security/ { print $2, "-" }'
done
