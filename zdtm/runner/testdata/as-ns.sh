#!/bin/sh
# Starts the zdtm test $ZDTM_AS_NS in the ns flavor whatever flavor the
# runner asked for: namespaces of its own, no container.
ZDTM_FLAVOR=ns exec "$ZDTM_AS_NS" "$@"
